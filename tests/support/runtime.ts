// The runtime the server under test runs on, and how to get Bun (from npm, pinned). Tests run on
// Deno unless tests/runtimes/bun_test.ts has switched to Bun for the suites it re-runs there.

/** A runtime wsecho runs on. */
export type Runtime = "deno" | "bun";

/** The Bun version tests, README and deno.json use (npm package `bun`). */
export const BUN_VERSION = "1.4.5";

const ROOT = new URL("../../", import.meta.url).pathname;

let current: Runtime = "deno";

/** The runtime servers are started on by withServer and the process tests. */
export function currentRuntime(): Runtime {
  return current;
}

/** Sets the runtime for the tests that follow (one test runs at a time in a module). */
export function setRuntime(runtime: Runtime): void {
  current = runtime;
}

let bun: Promise<{ path: string } | { reason: string }> | null = null;

/**
 * The path of the Bun binary: $WSECHO_BUN if set, else the one `npx -y bun@BUN_VERSION` brings
 * (downloaded on first use, then from npm's cache). A reason instead when it cannot be had.
 */
export function findBun(): Promise<{ path: string } | { reason: string }> {
  bun ??= (async () => {
    const given = Deno.env.get("WSECHO_BUN");
    if (given) return { path: given };
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("npx", {
        args: ["-y", `bun@${BUN_VERSION}`, "-e", "console.log(process.execPath)"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return { reason: "npx (Node.js) is not installed" };
      throw err;
    }
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success || text === "") {
      const why = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-1)[0];
      return { reason: `npx -y bun@${BUN_VERSION} failed: ${why}` };
    }
    return { path: text.split("\n").slice(-1)[0] };
  })();
  return bun;
}

/** The command that runs the entry point of `currentRuntime()` with `args`, from the root. */
export async function mainCommand(args: string[]): Promise<{ cmd: string; args: string[] }> {
  if (current === "bun") {
    const found = await findBun();
    if (!("path" in found)) throw new Error(`Bun is not available: ${found.reason}`);
    return { cmd: found.path, args: ["src/runtime/bun/main.ts", ...args] };
  }
  return {
    cmd: Deno.execPath(),
    args: [
      "run",
      "--unstable-net",
      "--allow-net",
      "--allow-env",
      "--allow-read=src",
      "src/runtime/deno/main.ts",
      ...args,
    ],
  };
}

/** The repository's root directory (the working directory of server processes). */
export const ROOT_DIR = ROOT;
