// The deployment files agree with the code (no Docker engine here: the files are read, not
// run): Dockerfile ⇔ `deno task start` ⇔ src/config.ts ⇔ README ⇔ fly.toml. And the real
// entry point's --help and its refusal of a bad value.

import assert from "node:assert/strict";
import { defaultConfig, ENV_NAMES, loadConfig, OPTIONS } from "../../src/config.ts";

const ROOT = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

async function readOptional(path: string): Promise<string | null> {
  try {
    return await read(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** Dockerfile instructions (continuation lines joined, comments dropped), in order. */
function dockerInstructions(text: string): { op: string; args: string }[] {
  const out: { op: string; args: string }[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.endsWith("\\")) {
      pending += line.slice(0, -1) + " ";
      continue;
    }
    const full = pending + line;
    pending = "";
    const sp = full.search(/\s/);
    out.push({ op: full.slice(0, sp).toUpperCase(), args: full.slice(sp + 1).trim() });
  }
  return out;
}

function only(instructions: { op: string; args: string }[], op: string): string {
  const found = instructions.filter((i) => i.op === op);
  assert.ok(found.length > 0, `no ${op} in the Dockerfile`);
  return found.at(-1)!.args; // the last one is the one that counts
}

/** An exec-form instruction's argument list (a JSON array), or a failure. */
function execForm(op: string, args: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    assert.fail(`${op} is not in exec form (a JSON array): ${args}`);
  }
  assert.ok(Array.isArray(parsed) && parsed.every((a) => typeof a === "string"), `${op}: ${args}`);
  return parsed as string[];
}

async function startTask(): Promise<string[]> {
  const deno = JSON.parse(await read("deno.json"));
  const start = deno.tasks?.start;
  assert.equal(typeof start, "string", "deno.json has no start task");
  return (start as string).trim().split(/\s+/);
}

/**
 * The environment variables `deno run args` may read: a `--allow-env=A,B,C` argument, or the
 * `env` list of the deno.json permission set named by `-P=NAME`.
 */
async function allowEnv(args: string[]): Promise<string[]> {
  const set = args.find((a) => a.startsWith("-P=") || a.startsWith("--permission-set="));
  if (set !== undefined) {
    const name = set.slice(set.indexOf("=") + 1);
    const env = JSON.parse(await read("deno.json")).permissions?.[name]?.env;
    assert.ok(Array.isArray(env), `deno.json has no permission set ${name} with an env list`);
    return env;
  }
  const flag = args.find((a) => a.startsWith("--allow-env"));
  assert.ok(flag !== undefined, `no --allow-env in ${args.join(" ")}`);
  assert.ok(flag.includes("="), "--allow-env is not limited to named variables");
  return flag.slice(flag.indexOf("=") + 1).split(",");
}

type TomlValue = string | number | boolean;

/**
 * A minimal, line-based TOML reader for fly.toml: `[table]`, `[[array.of.tables]]` and
 * `key = value` lines with string, number or boolean values. Keys are returned with their full
 * dotted path; an array of tables gets an index: `http_service.checks[0].path`.
 */
function parseToml(text: string): Map<string, TomlValue> {
  const out = new Map<string, TomlValue>();
  const counts = new Map<string, number>();
  let prefix = "";
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    let m = /^\[\[\s*([\w.-]+)\s*\]\]$/.exec(line);
    if (m !== null) {
      const n = counts.get(m[1]) ?? 0;
      counts.set(m[1], n + 1);
      prefix = `${m[1]}[${n}].`;
      continue;
    }
    m = /^\[\s*([\w.-]+)\s*\]$/.exec(line);
    if (m !== null) {
      prefix = `${m[1]}.`;
      continue;
    }
    m = /^([\w-]+)\s*=\s*(.+)$/.exec(line);
    assert.ok(m !== null, `fly.toml: cannot read ${JSON.stringify(raw)}`);
    const v = m[2];
    let value: TomlValue;
    if (/^"[^"]*"$/.test(v) || /^'[^']*'$/.test(v)) value = v.slice(1, -1);
    else if (v === "true" || v === "false") value = v === "true";
    else if (/^[+-]?\d+(\.\d+)?$/.test(v.replaceAll("_", ""))) {
      value = Number(v.replaceAll("_", ""));
    } else assert.fail(`fly.toml: unsupported value in ${JSON.stringify(raw)}`);
    out.set(prefix + m[1], value);
  }
  return out;
}

/** Seconds from a fly duration ("15s", "2m", "500ms") or a bare number of seconds. */
function flySeconds(v: TomlValue | undefined): number {
  if (typeof v === "number") return v;
  assert.equal(typeof v, "string", `not a duration: ${v}`);
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v as string);
  assert.ok(m !== null, `not a duration: ${v}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] ?? "s"]!;
}

Deno.test("Dockerfile: ENTRYPOINT deno, and CMD is exactly the start task's arguments", async () => {
  const docker = dockerInstructions(await read("Dockerfile"));
  assert.deepEqual(execForm("ENTRYPOINT", only(docker, "ENTRYPOINT")), ["deno"]);
  const cmd = execForm("CMD", only(docker, "CMD"));
  const task = await startTask();
  assert.equal(task[0], "deno", `the start task does not run deno: ${task.join(" ")}`);
  assert.deepEqual(cmd, task.slice(1));
});

Deno.test("--allow-env names the variables src/config.ts reads, in the task and the image", async () => {
  const want = [...ENV_NAMES].sort();
  assert.deepEqual([...await allowEnv(await startTask())].sort(), want);
  const docker = dockerInstructions(await read("Dockerfile"));
  assert.deepEqual([...await allowEnv(execForm("CMD", only(docker, "CMD")))].sort(), want);
});

Deno.test("the image's Deno version is the one README and CI pin", async () => {
  const from = only(dockerInstructions(await read("Dockerfile")), "FROM");
  const m = /^denoland\/deno:(\d+\.\d+\.\d+)\b/.exec(from);
  assert.ok(m !== null, `FROM is not a pinned denoland/deno image: ${from}`);
  const image = m[1];

  const readme = await readOptional("README.md");
  if (readme === null) {
    console.warn("deploy_test: README.md does not exist; its version pin is not checked");
  } else {
    const pins = [...readme.matchAll(/npx -y deno@(\d+\.\d+\.\d+)/g)].map((x) => x[1]);
    assert.ok(pins.length > 0, "README.md has no `npx -y deno@X.Y.Z` command");
    for (const pin of pins) assert.equal(pin, image, "README pins another Deno than the image");
  }
  const ci = await readOptional(".ci/run");
  if (ci !== null) {
    const pins = [...ci.matchAll(/deno@(\d+\.\d+\.\d+)|DENO_VERSION=(\d+\.\d+\.\d+)/g)]
      .map((x) => x[1] ?? x[2]);
    for (const pin of pins) assert.equal(pin, image, ".ci/run pins another Deno than the image");
  }
});

Deno.test("fly.toml agrees with the image and the server's defaults", async () => {
  const fly = parseToml(await read("fly.toml"));
  const docker = dockerInstructions(await read("Dockerfile"));
  const defaults = defaultConfig();

  // The port: EXPOSE, the image's PORT, and Fly's internal_port.
  const expose = only(docker, "EXPOSE").split(/\s+/).map((p) => p.replace(/\/tcp$/, ""));
  assert.deepEqual(expose, ["8080"]);
  const envLine = docker.filter((i) => i.op === "ENV").map((i) => i.args).join(" ");
  assert.match(envLine, /(^|\s)PORT=8080(\s|$)/, "the image does not set PORT=8080");
  assert.equal(fly.get("http_service.internal_port"), 8080);
  const flyPort = fly.get("env.PORT");
  if (flyPort !== undefined) assert.equal(String(flyPort), "8080");

  // What the server runs with on Fly: its defaults, overridden by [env].
  const flyEnv: Record<string, string> = {};
  for (const [k, v] of fly) if (k.startsWith("env.")) flyEnv[k.slice(4)] = String(v);
  const onFly = loadConfig([], flyEnv);

  // Concurrency: counted in connections; the hard limit is MAX_CONNECTIONS.
  assert.equal(fly.get("http_service.concurrency.type"), "connections");
  const hard = fly.get("http_service.concurrency.hard_limit");
  const soft = fly.get("http_service.concurrency.soft_limit");
  assert.equal(defaults.maxConnections, 10000);
  assert.equal(hard, defaults.maxConnections);
  assert.equal(hard, onFly.maxConnections);
  assert.equal(typeof soft, "number");
  assert.ok((soft as number) < (hard as number), `soft_limit ${soft} >= hard_limit ${hard}`);

  // A health check on /healthz.
  const checkPaths = [...fly].filter(([k]) => /^http_service\.checks\[\d+\]\.path$/.test(k))
    .map(([, v]) => v);
  assert.ok(checkPaths.includes("/healthz"), `check paths: ${checkPaths}`);

  // Shutdown: SIGTERM starts the drain, and Fly waits longer than the drain may last.
  assert.equal(fly.get("kill_signal"), "SIGTERM");
  const killTimeout = flySeconds(fly.get("kill_timeout"));
  assert.equal(defaults.drainTimeout, 10_000);
  assert.ok(killTimeout * 1000 > defaults.drainTimeout, `kill_timeout ${killTimeout}s`);
  assert.ok(killTimeout * 1000 > onFly.drainTimeout, `kill_timeout ${killTimeout}s on Fly`);
});

/** Runs src/runtime/deno/main.ts with the start task's permissions and `args`; waits for its exit. */
async function runMain(args: string[]) {
  const task = await startTask();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...task.slice(1), ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("--help lists every option's flag and environment variable", async () => {
  const r = await runMain(["--help"]);
  assert.equal(r.code, 0, r.stderr);
  for (const o of OPTIONS) {
    assert.ok(r.stdout.includes(o.flag), `--help does not mention ${o.flag}`);
    assert.ok(r.stdout.includes(o.env), `--help does not mention ${o.env}`);
  }
});

Deno.test("a bad value (--port abc) exits non-zero with one line naming the option", async () => {
  const r = await runMain(["--port", "abc"]);
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `stderr: ${r.stderr}`);
  assert.match(lines[0], /--port/);
  assert.match(lines[0], /abc/);
  assert.equal(r.stdout, "", "a bad value must not start the server");
});
