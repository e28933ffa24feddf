// An application that throws: its connection is closed 1011 and the error is logged once, with
// the connection's id and the stack; the server goes on serving others.

import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config.ts";
import { Logger } from "../../src/log.ts";
import { listenTcp } from "../../src/runtime/deno/tcp.ts";
import { Server } from "../../src/server/server.ts";
import { serverOptions } from "../../src/wsecho.ts";
import { echo } from "../../src/echo.ts";
import { closePayload, RawClient } from "../support/raw_client.ts";

Deno.test("an application's exception closes its connection 1011 and is logged once with its id", async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger("info", {}, (line) => lines.push(JSON.parse(line)));
  const config = { ...defaultConfig(), host: "127.0.0.1", port: 0 };
  const server = new Server(
    listenTcp({ hostname: "127.0.0.1", port: 0 }),
    serverOptions(config, { logger }),
    {
      websocket: {
        "/boom": async (conn) => {
          for await (const _ of conn) throw new Error("the application broke");
        },
        "/": echo,
      },
      http: {},
    },
  );
  try {
    const bad = await RawClient.open(server.addr.port, "/boom");
    await bad.sendFrame({ opcode: 1, payload: "hi" });
    const closed = await bad.closeCode();
    assert.equal(closed.code, 1011);
    await bad.sendFrame({ opcode: 8, payload: closePayload(1011) });
    bad.close();
    // Another connection is served as usual.
    const good = await RawClient.open(server.addr.port, "/");
    await good.sendFrame({ opcode: 1, payload: "still here" });
    assert.equal(new TextDecoder().decode((await good.frame())!.payload), "still here");
    good.close();
  } finally {
    await server.close();
  }
  const failures = lines.filter((l) => l.event === "app_failed");
  assert.equal(failures.length, 1, "logged once");
  assert.equal(typeof failures[0].id, "number");
  assert.match(String(failures[0].error), /the application broke\n\s+at /, "with its stack");
  const closes = lines.filter((l) => l.event === "connection_closed" && l.id === failures[0].id);
  assert.equal(closes.length, 1);
  assert.equal(closes[0].close_code, 1011);
});
