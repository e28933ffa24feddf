// One Bun version everywhere: the tests' runtime, README's start command, the start:bun task and
// the Bun benchmark pin the same npm release.

import assert from "node:assert/strict";
import { BUN_VERSION } from "../support/runtime.ts";

const ROOT = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

Deno.test("README, deno.json and bench/load_bun.sh pin the Bun version the tests use", async () => {
  const pins = {
    "README.md": [...(await read("README.md")).matchAll(/bun@(\d+\.\d+\.\d+)/g)].map((m) => m[1]),
    "deno.json": [...(await read("deno.json")).matchAll(/bun@(\d+\.\d+\.\d+)/g)].map((m) => m[1]),
    "bench/load_bun.sh": [...(await read("bench/load_bun.sh")).matchAll(/BUN_VERSION=(\S+)/g)]
      .map((m) => m[1]),
  };
  for (const [file, versions] of Object.entries(pins)) {
    assert.ok(versions.length > 0, `${file} names no Bun version`);
    assert.deepEqual([...new Set(versions)], [BUN_VERSION], `${file} pins another Bun`);
  }
});
