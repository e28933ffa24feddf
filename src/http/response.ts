// Serialises HTTP/1.1 responses. Every plain response closes the connection: wsecho serves a
// page and a few endpoints, and a connection that is not upgraded is not worth keeping.

const encoder = new TextEncoder();

/** Reason phrases for the statuses wsecho sends. */
export const STATUS_TEXT: Record<number, string> = {
  101: "Switching Protocols",
  200: "OK",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  414: "URI Too Long",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** A response to write: status, extra headers and a body. */
export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Send headers (with Content-Length) but no body, as for HEAD. */
  omitBody?: boolean;
}

/** Encodes a complete response, with Content-Length and `Connection: close`. */
export function encodeResponse(res: HttpResponse): Uint8Array {
  const body = typeof res.body === "string"
    ? encoder.encode(res.body)
    : res.body ?? new Uint8Array();
  let head = `HTTP/1.1 ${res.status} ${STATUS_TEXT[res.status] ?? "Unknown"}\r\n`;
  for (const [name, value] of Object.entries(res.headers ?? {})) head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  const headBytes = encoder.encode(head);
  if (res.omitBody || body.length === 0) return headBytes;
  const out = new Uint8Array(headBytes.length + body.length);
  out.set(headBytes);
  out.set(body, headBytes.length);
  return out;
}

/** A plain-text error response: the status and a one-line reason. */
export function textResponse(
  status: number,
  message: string,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", ...headers },
    body: message + "\n",
  };
}
