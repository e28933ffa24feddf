// /healthz and /metrics over real sockets: the health answer, the Prometheus text format, and
// counters that follow what the server actually did.

import assert from "node:assert/strict";
import { closePayload, RawClient } from "../support/raw_client.ts";
import { withServer } from "../support/server.ts";

/** A plain GET over raw TCP: status, head and body (read to EOF). */
async function get(
  port: number,
  path: string,
): Promise<{ status: number; head: string; body: string }> {
  const c = await RawClient.connect(port);
  try {
    await c.send(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    const head = await c.reader.head();
    assert.ok(head !== null, `no response to GET ${path}`);
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(head);
    assert.ok(m !== null, `not an HTTP response: ${head}`);
    return { status: Number(m[1]), head, body: await c.reader.rest() };
  } finally {
    c.close();
  }
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text: samples, and the HELP and TYPE lines by metric name. */
function parseMetrics(text: string) {
  const samples: Sample[] = [];
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# HELP (\w+) (.+)$/.exec(line);
    if (m !== null) {
      help.set(m[1], m[2]);
      continue;
    }
    m = /^# TYPE (\w+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m !== null) {
      type.set(m[1], m[2]);
      continue;
    }
    m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m !== null, `not a Prometheus line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? "").split(",")) {
      if (pair === "") continue;
      const l = /^(\w+)="([^"]*)"$/.exec(pair);
      assert.ok(l !== null, `bad label ${pair} in ${line}`);
      labels[l[1]] = l[2];
    }
    const value = Number(m[3]);
    assert.ok(!Number.isNaN(value), `bad value in ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return { samples, help, type };
}

/** The value of `name` whose labels include `labels`; undefined if there is none. */
function valueOf(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )?.value;
}

async function scrape(port: number) {
  const r = await get(port, "/metrics");
  assert.equal(r.status, 200);
  assert.match(r.head, /\r\nContent-Type: text\/plain; version=0\.0\.4/i);
  return parseMetrics(r.body);
}

Deno.test("/healthz answers 200 ok", async () => {
  await withServer({}, async (port) => {
    const r = await get(port, "/healthz");
    assert.equal(r.status, 200);
    assert.equal(r.body.trim(), "ok");
  });
});

Deno.test("/metrics is Prometheus text: HELP and TYPE for each metric, a worker label", async () => {
  await withServer({}, async (port) => {
    const { samples, help, type } = await scrape(port);
    const names = [
      "wsecho_open_connections",
      "wsecho_open_websockets",
      "wsecho_connections_total",
      "wsecho_rejected_total",
      "wsecho_messages_received_total",
      "wsecho_messages_sent_total",
      "wsecho_payload_bytes_received_total",
      "wsecho_payload_bytes_sent_total",
      "wsecho_closes_total",
      "wsecho_backpressured_connections",
    ];
    for (const name of names) {
      assert.ok(help.has(name), `no # HELP for ${name}`);
      assert.ok(type.has(name), `no # TYPE for ${name}`);
      if (name.endsWith("_total")) assert.equal(type.get(name), "counter", name);
    }
    for (const s of samples) {
      assert.ok(type.has(s.name), `sample ${s.name} has no # TYPE`);
      assert.equal(s.labels.worker, "0", `${s.name} carries no worker="0" label`);
    }
    // The scrape itself is an open connection and an accepted one.
    assert.equal(valueOf(samples, "wsecho_open_connections"), 1);
    assert.equal(valueOf(samples, "wsecho_connections_total"), 1);
    assert.equal(valueOf(samples, "wsecho_open_websockets"), 0);
  });
});

Deno.test("/metrics counts echoed messages, bytes, closes, rejections and connections", async () => {
  await withServer({}, async (port) => {
    const before = (await scrape(port)).samples;
    const connectionsBefore = valueOf(before, "wsecho_connections_total")!;

    // Three messages echoed (1 + 2 + 100 payload bytes), then a normal close from the client.
    const c = await RawClient.open(port);
    try {
      await c.sendFrame({ opcode: 1, payload: "a" });
      await c.sendFrame({ opcode: 1, payload: "bb" });
      await c.sendFrame({ opcode: 2, payload: new Uint8Array(100).fill(7) });
      for (const want of [1, 2, 100]) assert.equal((await c.frame())?.payload.length, want);

      // While it is open, the live figures count it.
      const live = (await scrape(port)).samples;
      assert.equal(valueOf(live, "wsecho_open_websockets"), 1);
      assert.equal(valueOf(live, "wsecho_messages_received_total"), 3);
      assert.equal(valueOf(live, "wsecho_payload_bytes_sent_total"), 103);

      await c.sendFrame({ opcode: 8, payload: closePayload(1000) });
      const r = await c.closeCode();
      assert.equal(r.code, 1000);
      assert.ok(r.eof);
    } finally {
      c.close();
    }

    // A rejected request.
    assert.equal((await get(port, "/no-such-page")).status, 404);

    // The closed connection is accounted for once the server has finished with it.
    let after = (await scrape(port)).samples;
    let scrapes = 1;
    for (let i = 0; i < 100 && valueOf(after, "wsecho_open_websockets") !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = (await scrape(port)).samples;
      scrapes++;
    }
    assert.equal(valueOf(after, "wsecho_open_websockets"), 0);
    assert.equal(valueOf(after, "wsecho_messages_received_total"), 3);
    assert.equal(valueOf(after, "wsecho_messages_sent_total"), 3);
    assert.equal(valueOf(after, "wsecho_payload_bytes_received_total"), 103);
    assert.equal(valueOf(after, "wsecho_payload_bytes_sent_total"), 103);
    assert.equal(valueOf(after, "wsecho_rejected_total", { reason: "not_found" }), 1);
    assert.equal(valueOf(after, "wsecho_closes_total", { code: "1000" }), 1);
    // Since the first scrape: the WebSocket, the live scrape, the 404 and the scrapes after.
    assert.equal(
      valueOf(after, "wsecho_connections_total"),
      connectionsBefore + 3 + scrapes,
    );
    assert.equal(valueOf(after, "wsecho_backpressured_connections"), 0);
  });
});
