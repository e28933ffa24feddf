// Server-wide counters and their Prometheus text exposition (format 0.0.4).

import { deflateStats } from "./protocol/deflate.ts";

/** Counters and gauges of one server (one worker). */
export class Metrics {
  connectionsTotal = 0;
  readonly rejected = new Map<string, number>();
  readonly closes = new Map<number, number>();
  // Totals of connections that have ended; live ones are added at scrape time.
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;

  /** Counts a refused handshake or request, by reason. */
  reject(reason: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  /** Counts a closed WebSocket connection by its close code. */
  closed(code: number): void {
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
  }
}

/** Live figures gathered when /metrics is scraped. */
export interface LiveFigures {
  worker: number;
  openConnections: number;
  openWebSockets: number;
  backpressured: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Input memory held by every connection together, and the limit on it (bytes). */
  memoryHeld: number;
  memoryLimit: number;
}

/** Renders the metrics in the Prometheus text format. */
export function renderMetrics(m: Metrics, live: LiveFigures): string {
  const w = `worker="${live.worker}"`;
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}{${labels}} ${value}`);
  };
  metric("wsecho_open_connections", "gauge", "Open TCP connections (upgraded or not).", [
    [w, live.openConnections],
  ]);
  metric("wsecho_open_websockets", "gauge", "Open WebSocket connections.", [
    [w, live.openWebSockets],
  ]);
  metric("wsecho_connections_total", "counter", "TCP connections accepted.", [
    [w, m.connectionsTotal],
  ]);
  metric(
    "wsecho_rejected_total",
    "counter",
    "Requests and handshakes refused, by reason.",
    [...m.rejected].map(([reason, n]) => [`${w},reason="${reason}"`, n]),
  );
  metric("wsecho_messages_received_total", "counter", "WebSocket messages received.", [
    [w, m.messagesIn + live.messagesIn],
  ]);
  metric("wsecho_messages_sent_total", "counter", "WebSocket messages sent.", [
    [w, m.messagesOut + live.messagesOut],
  ]);
  metric("wsecho_payload_bytes_received_total", "counter", "Message payload bytes received.", [
    [w, m.bytesIn + live.bytesIn],
  ]);
  metric("wsecho_payload_bytes_sent_total", "counter", "Message payload bytes sent.", [
    [w, m.bytesOut + live.bytesOut],
  ]);
  metric(
    "wsecho_closes_total",
    "counter",
    "WebSocket connections closed, by close code (1006: no close frame).",
    [...m.closes].map(([code, n]) => [`${w},code="${code}"`, n]),
  );
  metric(
    "wsecho_backpressured_connections",
    "gauge",
    "Connections whose outgoing queue is full (not being read from).",
    [[w, live.backpressured]],
  );
  metric(
    "wsecho_input_memory_bytes",
    "gauge",
    "Input memory (read buffers, messages being reassembled or echoed) held by all connections.",
    [[w, live.memoryHeld]],
  );
  // permessage-deflate, counted by the compression code itself (per process or worker).
  metric(
    "wsecho_deflate_received_wire_bytes_total",
    "counter",
    "Payload bytes of compressed messages received, as on the wire.",
    [[w, deflateStats.inWire]],
  );
  metric(
    "wsecho_deflate_received_inflated_bytes_total",
    "counter",
    "Bytes those messages inflated to.",
    [[w, deflateStats.inInflated]],
  );
  metric(
    "wsecho_deflate_sent_raw_bytes_total",
    "counter",
    "Payload bytes of messages sent compressed, before compression.",
    [[w, deflateStats.outRaw]],
  );
  metric(
    "wsecho_deflate_sent_wire_bytes_total",
    "counter",
    "Their payload bytes on the wire, after compression.",
    [[w, deflateStats.outWire]],
  );
  if (Number.isFinite(live.memoryLimit)) {
    metric("wsecho_input_memory_limit_bytes", "gauge", "The limit on that memory.", [
      [w, live.memoryLimit],
    ]);
  }
  return out.join("\n") + "\n";
}
