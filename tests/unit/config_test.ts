// loadConfig (src/config.ts): defaults, environment vs flags, both flag forms, bad values, and
// the size and duration syntaxes.

import assert from "node:assert/strict";
import {
  ConfigError,
  defaultConfig,
  ENV_NAMES,
  helpText,
  loadConfig,
  OPTIONS,
} from "../../src/config.ts";

/** Expects loadConfig to throw a ConfigError whose message names `name`. */
function rejects(args: string[], env: Record<string, string>, name: string): ConfigError {
  let error: unknown = null;
  try {
    loadConfig(args, env);
  } catch (err) {
    error = err;
  }
  assert.ok(
    error instanceof ConfigError,
    `expected a ConfigError for ${args} ${JSON.stringify(env)}`,
  );
  assert.equal(error.name, "ConfigError");
  assert.ok(error.message.includes(name), `"${error.message}" names ${name}`);
  return error;
}

Deno.test("config: defaults", () => {
  // (Options added later are not listed here: each listed default must hold.)
  const want: Record<string, unknown> = {
    host: "0.0.0.0",
    port: 8080,
    maxMessage: 16 * 1024 * 1024,
    maxHead: 8 * 1024,
    maxHeaders: 100,
    maxTarget: 4 * 1024,
    handshakeTimeout: 10_000,
    closeTimeout: 5_000,
    pingInterval: 30_000,
    pingTimeout: 20_000,
    maxConnections: 10_000,
    maxConnectionsPerIp: 0,
    maxBackpressure: 1024 * 1024,
    maxMemory: 128 * 1024 * 1024,
    allowedOrigins: [],
    drainTimeout: 10_000,
    logLevel: "info",
    workers: 1,
  };
  const got = defaultConfig() as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(want)) assert.deepEqual(got[key], value, key);
  assert.deepEqual(loadConfig([], {}), defaultConfig());
});

Deno.test("config: environment variables set options", () => {
  const c = loadConfig([], {
    HOST: "127.0.0.1",
    PORT: "9000",
    MAX_MESSAGE: "1m",
    HANDSHAKE_TIMEOUT: "2s",
    ALLOWED_ORIGINS: "https://a.example, https://b.example",
    LOG_LEVEL: "warn",
  });
  assert.equal(c.host, "127.0.0.1");
  assert.equal(c.port, 9000);
  assert.equal(c.maxMessage, 1024 * 1024);
  assert.equal(c.handshakeTimeout, 2000);
  assert.deepEqual(c.allowedOrigins, ["https://a.example", "https://b.example"]);
  assert.equal(c.logLevel, "warn");
});

Deno.test("config: an empty environment variable means unset", () => {
  assert.equal(loadConfig([], { PORT: "" }).port, 8080);
});

Deno.test("config: unrelated environment variables are ignored", () => {
  assert.deepEqual(loadConfig([], { PATH: "/bin", FOO: "bar", port: "1" }), defaultConfig());
});

Deno.test("config: flags win over environment variables", () => {
  const env = { PORT: "1000", MAX_MESSAGE: "2m", LOG_LEVEL: "debug" };
  const c = loadConfig(["--port", "2000", "--max-message=3m"], env);
  assert.equal(c.port, 2000);
  assert.equal(c.maxMessage, 3 * 1024 * 1024);
  assert.equal(c.logLevel, "debug", "env still applies where no flag is given");
  // A flag given twice: the last wins.
  assert.equal(loadConfig(["--port=1", "--port=2"], {}).port, 2);
});

Deno.test("config: --name=value and --name value forms", () => {
  assert.equal(loadConfig(["--port=1"], {}).port, 1);
  assert.equal(loadConfig(["--port", "1"], {}).port, 1);
  assert.equal(loadConfig(["--port= 7 "], {}).port, 7, "values are trimmed");
  assert.deepEqual(loadConfig(["--allowed-origins=a,b"], {}).allowedOrigins, ["a", "b"]);
  // A value may contain '=' itself.
  assert.equal(loadConfig(["--host=a=b"], {}).host, "a=b");
});

Deno.test("config: every option has a flag and an environment variable that work", () => {
  const values: Record<string, [string, unknown]> = {
    host: ["::1", "::1"],
    port: ["1234", 1234],
    maxMessage: ["2k", 2048],
    maxHead: ["4k", 4096],
    maxHeaders: ["7", 7],
    maxTarget: ["512", 512],
    handshakeTimeout: ["3s", 3000],
    closeTimeout: ["250ms", 250],
    pingInterval: ["0", 0],
    pingTimeout: ["1m", 60_000],
    maxConnections: ["5", 5],
    maxConnectionsPerIp: ["2", 2],
    maxBackpressure: ["64k", 65536],
    allowedOrigins: ["x", ["x"]],
    drainTimeout: ["1.5s", 1500],
    logLevel: ["silent", "silent"],
    workers: ["4", 4],
  };
  for (const o of OPTIONS) {
    assert.match(o.flag, /^--[a-z][a-z-]*$/);
    assert.match(o.env, /^[A-Z][A-Z_]*$/);
    if (!(o.key in values)) continue; // an option newer than this test
    const [raw, want] = values[o.key];
    assert.deepEqual(loadConfig([o.flag, raw], {})[o.key], want, o.flag);
    assert.deepEqual(loadConfig([`${o.flag}=${raw}`], {})[o.key], want, o.flag);
    assert.deepEqual(loadConfig([], { [o.env]: raw })[o.key], want, o.env);
  }
  for (const key of Object.keys(values)) {
    assert.ok(OPTIONS.some((o) => o.key === key), `option ${key} exists`);
  }
  assert.deepEqual(ENV_NAMES, OPTIONS.map((o) => o.env));
});

Deno.test("config: bad flag values throw a ConfigError naming the flag", () => {
  rejects(["--port=70000"], {}, "--port");
  rejects(["--port", "-1"], {}, "--port");
  rejects(["--port=abc"], {}, "--port");
  rejects(["--port=8080.5"], {}, "--port");
  rejects(["--port="], {}, "--port");
  rejects(["--max-message=0"], {}, "--max-message");
  rejects(["--max-message=16x"], {}, "--max-message");
  rejects(["--max-head=100"], {}, "--max-head"); // below 256
  rejects(["--max-headers=0"], {}, "--max-headers");
  rejects(["--handshake-timeout=10h"], {}, "--handshake-timeout");
  rejects(["--close-timeout=-5s"], {}, "--close-timeout");
  rejects(["--log-level=verbose"], {}, "--log-level");
  rejects(["--workers=0"], {}, "--workers");
  rejects(["--workers=65"], {}, "--workers");
  rejects(["--host="], {}, "--host");
});

Deno.test("config: bad environment values throw a ConfigError naming the variable", () => {
  rejects([], { PORT: "abc" }, "PORT");
  rejects([], { MAX_MESSAGE: "lots" }, "MAX_MESSAGE");
  rejects([], { PING_INTERVAL: "soon" }, "PING_INTERVAL");
  rejects([], { LOG_LEVEL: "loud" }, "LOG_LEVEL");
  // A good flag overrides a bad environment value.
  assert.equal(loadConfig(["--port=5"], { PORT: "abc" }).port, 5);
});

Deno.test("config: unknown options and missing values throw", () => {
  rejects(["--nope"], {}, "--nope");
  rejects(["--nope=1"], {}, "--nope");
  rejects(["port=1"], {}, "port");
  rejects(["--port"], {}, "--port");
});

Deno.test("config: sizes take k/m/g suffixes, any case, optional B/iB", () => {
  const size = (raw: string) => loadConfig([`--max-message=${raw}`], {}).maxMessage;
  assert.equal(size("1"), 1);
  assert.equal(size("512"), 512);
  assert.equal(size("64k"), 64 * 1024);
  assert.equal(size("64K"), 64 * 1024);
  assert.equal(size("64kb"), 64 * 1024);
  assert.equal(size("64KiB"), 64 * 1024);
  assert.equal(size("16m"), 16 * 1024 * 1024);
  assert.equal(size("16MB"), 16 * 1024 * 1024);
  assert.equal(size("1g"), 1024 ** 3);
  assert.equal(size("4g"), 4 * 1024 ** 3, "4g is the largest");
  for (const bad of ["5g", "4097m", "1.5m", "m", "-1", "1 k", "1t", "0x10"]) {
    rejects([`--max-message=${bad}`], {}, "--max-message");
  }
  // Minimums are per option.
  assert.equal(loadConfig(["--max-head=256"], {}).maxHead, 256);
  rejects(["--max-head=255"], {}, "--max-head");
  assert.equal(loadConfig(["--max-backpressure=1k"], {}).maxBackpressure, 1024);
  rejects(["--max-backpressure=1023"], {}, "--max-backpressure");
});

Deno.test("config: durations take ms/s/m; bare numbers are ms", () => {
  const dur = (raw: string) => loadConfig([`--close-timeout=${raw}`], {}).closeTimeout;
  assert.equal(dur("250"), 250);
  assert.equal(dur("250ms"), 250);
  assert.equal(dur("0"), 0);
  assert.equal(dur("10s"), 10_000);
  assert.equal(dur("1.5s"), 1500);
  assert.equal(dur("0.0015s"), 2, "rounded to whole milliseconds");
  assert.equal(dur("2m"), 120_000);
  for (const bad of ["10h", "1d", "s", "1.s", "-1", "1 s", "10S", "abc"]) {
    rejects([`--close-timeout=${bad}`], {}, "--close-timeout");
  }
});

Deno.test("config: lists drop empty items and spaces", () => {
  const c = loadConfig([], { ALLOWED_ORIGINS: " a , ,b,, c " });
  assert.deepEqual(c.allowedOrigins, ["a", "b", "c"]);
});

Deno.test("config: --help text lists every flag and variable", () => {
  const help = helpText();
  for (const o of OPTIONS) {
    assert.ok(help.includes(o.flag), o.flag);
    assert.ok(help.includes(o.env), o.env);
  }
});
