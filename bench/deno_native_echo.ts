// Reference server: Deno's built-in WebSocket (Deno.serve + Deno.upgradeWebSocket) echoing every
// message back with its type. usage: deno run --allow-net bench/deno_native_echo.ts [PORT]
// (the port also comes from $PORT when --allow-env is given; default 9002). Listens on 127.0.0.1.

const envPort = Deno.permissions.querySync({ name: "env", variable: "PORT" }).state === "granted"
  ? Deno.env.get("PORT")
  : undefined;
const port = Number(Deno.args[0] ?? envPort ?? 9002);

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("WebSocket echo: upgrade required\n", { status: 426 });
  }
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (e) => socket.send(e.data); // string stays text, ArrayBuffer stays binary
  socket.onerror = () => {};
  return response;
});
console.log(`deno native echo listening on ws://127.0.0.1:${port}/`);
