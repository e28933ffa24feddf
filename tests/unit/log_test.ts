// The two log formats: JSON objects for machines, text lines for a person at a terminal.

import assert from "node:assert/strict";
import { Logger, SUMMARY, textLine } from "../../src/log.ts";

Deno.test("log: JSON lines carry every field but the text summary", () => {
  const lines: string[] = [];
  const log = new Logger("info", { worker: 1 }, (l) => lines.push(l), "json");
  log.log("debug", "dropped");
  log.log("info", "listening", { [SUMMARY]: "for people", url: "ws://x/" });
  assert.equal(lines.length, 1);
  const e = JSON.parse(lines[0]);
  assert.equal(e.event, "listening");
  assert.equal(e.worker, 1);
  assert.equal(e.url, "ws://x/");
  assert.ok(!(SUMMARY in e));
});

Deno.test("log: text lines are time, level, event and key=value (quoted when needed)", () => {
  const time = "2026-12-06T02:49:50.357Z";
  assert.equal(
    textLine(time, "info", "connection_closed", { id: 3, reason: "going away", clean: true }),
    '02:49:50.357 info  connection_closed id=3 reason="going away" clean=true',
  );
  assert.equal(
    textLine(time, "info", "listening", { [SUMMARY]: "hello", url: "x" }),
    "02:49:50.357 info  hello",
  );
  assert.equal(
    textLine(time, "error", "app_failed", { id: 1, error: "Error: x\n    at f" }),
    "02:49:50.357 error app_failed id=1\n  Error: x\n      at f",
  );
});
