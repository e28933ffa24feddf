// The integration and conformance suites once more, against wsecho on Bun: every test of those
// files is registered again with "[bun] " before its name, and runs with its server in a Bun
// process (support/server.ts and bun_host.ts: one process for all, so that no test pays for
// Bun's start-up). The host's pipes outlive single tests, so these run without Deno's op and
// resource sanitizers; the same tests run with them on Deno. Bun comes from npm, pinned (support/runtime.ts); where it
// cannot be had, these tests are skipped and the reason printed.

import { findBun, setRuntime } from "../support/runtime.ts";
import { stopBunHost } from "../support/server.ts";

// Static checks of the repository, not of a running server: once is enough.
// Files about the Deno process itself (its permissions, signals, start output, TLS listener, the
// terminal client), or that build a server by hand: they test nothing of the Bun build.
const DENO_ONLY = new Set([
  "deploy_test.ts",
  "readme_deploy_test.ts",
  "process_test.ts",
  "start_output_test.ts",
  "tls_test.ts",
  "cli_client_test.ts",
  "app_error_test.ts",
]);

type TestFn = (t: Deno.TestContext) => void | Promise<void>;

// The shapes of Deno.test the suites use: (name, fn), (name, options, fn) and (definition).
function onBun(original: typeof Deno.test): typeof Deno.test {
  const wrap = (fn: TestFn): TestFn => async (t) => {
    setRuntime("bun");
    try {
      await fn(t);
    } finally {
      setRuntime("deno");
    }
  };
  const unsanitized = { sanitizeOps: false, sanitizeResources: false };
  const register = (...args: unknown[]): void => {
    if (typeof args[0] === "string" && typeof args[1] === "function") {
      original({ ...unsanitized, name: `[bun] ${args[0]}`, fn: wrap(args[1] as TestFn) });
    } else if (typeof args[0] === "string") {
      const options = args[1] as Omit<Deno.TestDefinition, "name" | "fn">;
      original({
        ...options,
        ...unsanitized,
        name: `[bun] ${args[0]}`,
        fn: wrap(args[2] as TestFn),
      });
    } else {
      const def = args[0] as Deno.TestDefinition;
      original({ ...def, ...unsanitized, name: `[bun] ${def.name}`, fn: wrap(def.fn) });
    }
  };
  return Object.assign(register, {
    ignore: original.ignore,
    only: original.only,
  }) as typeof Deno.test;
}

const found = await findBun();
if (!("path" in found)) {
  console.log(`bun tests skipped: ${found.reason}`);
  Deno.test({ name: `[bun] suites (skipped: ${found.reason})`, ignore: true, fn() {} });
} else {
  const original = Deno.test;
  const files: URL[] = [];
  for (const dir of ["../integration/", "../conformance/"]) {
    const base = new URL(dir, import.meta.url);
    for await (const entry of Deno.readDir(base)) {
      if (entry.name.endsWith("_test.ts") && !DENO_ONLY.has(entry.name)) {
        files.push(new URL(entry.name, base));
      }
    }
  }
  files.sort((a, b) => a.href.localeCompare(b.href));
  // Deno.test is read-only in the types, not at run time: the suites' own calls are redirected.
  const deno = Deno as { test: typeof Deno.test };
  deno.test = onBun(original);
  try {
    // A query makes these modules distinct from the ones `deno test` loads for Deno.
    for (const file of files) await import(`${file.href}?runtime=bun`);
  } finally {
    deno.test = original;
  }
  Deno.test({
    name: "[bun] (end of the Bun tests: the host process exits)",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: stopBunHost,
  });
}
