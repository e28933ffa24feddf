// The README's options table says what src/config.ts does: every option, its env var, its
// default and its help, in the same order (tools/readme_options.ts regenerates the table).

import assert from "node:assert/strict";
import { defaultLabel, helpText, OPTIONS } from "../../src/config.ts";
import { tableRange } from "../../tools/readme_options.ts";

const README = new URL("../../README.md", import.meta.url);

/** A Markdown table row's cells, trimmed (no cell here contains a `|`). */
const cells = (row: string) => row.slice(1, row.lastIndexOf("|")).split("|").map((c) => c.trim());

Deno.test("README: the options table matches src/config.ts, defaults included", async () => {
  const lines = (await Deno.readTextFile(README)).split("\n");
  const [start, end] = tableRange(lines);
  const rows = lines.slice(start + 2, end).map(cells);
  const want = OPTIONS.map((o) => [`\`${o.flag}\``, `\`${o.env}\``, defaultLabel(o), o.help]);
  assert.deepEqual(rows, want, "run `deno task docs:options && deno fmt README.md`");
});

Deno.test("--help shows the same defaults as the README", () => {
  const help = helpText();
  for (const o of OPTIONS) {
    const line = help.split("\n").find((l) => l.startsWith(`  ${o.flag} / ${o.env} `));
    assert.ok(line !== undefined, `--help has no line for ${o.flag}`);
    assert.ok(line.endsWith(`default ${defaultLabel(o).replaceAll("`", "")}`), line);
  }
});
