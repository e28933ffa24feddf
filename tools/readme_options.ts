// Rewrites the options table in README.md from src/config.ts (`deno task docs:options`; then
// `deno fmt README.md` aligns it). tests/unit/readme_options_test.ts fails when they differ.

import { optionsTable } from "../src/config.ts";

/** The rows of the first Markdown table whose header starts with "| option": [start, end). */
export function tableRange(lines: readonly string[]): [number, number] {
  const start = lines.findIndex((l) => /^\|\s*option\s*\|/.test(l));
  if (start === -1) throw new Error("README.md has no options table (a row starting '| option |')");
  let end = start;
  while (end < lines.length && lines[end].startsWith("|")) end++;
  return [start, end];
}

if (import.meta.main) {
  const url = new URL("../README.md", import.meta.url);
  const lines = (await Deno.readTextFile(url)).split("\n");
  const [start, end] = tableRange(lines);
  lines.splice(start, end - start, optionsTable());
  await Deno.writeTextFile(url, lines.join("\n"));
}
