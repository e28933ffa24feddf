// Entry point: flags and environment → Config → a listening server.

import { ConfigError, helpText, loadConfig } from "./config.ts";
import { loadAssets, startWsecho } from "./wsecho.ts";

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(helpText());
    Deno.exit(0);
  }
  let config;
  try {
    config = loadConfig(Deno.args, Deno.env.toObject());
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`wsecho: ${err.message}`);
    Deno.exit(2);
  }
  const server = startWsecho(config, await loadAssets());
  const { hostname, port } = server.addr;
  console.log(
    `wsecho listening on ws://${hostname}:${port}/ (page at http://${hostname}:${port}/)`,
  );
}
