// Why the server could not start, in one line that names what failed (the address, the host,
// the certificate file), and the exit status that goes with it (see README, Exit statuses).

import { hostPort } from "../../listening.ts";
import { TlsFilesError } from "./tls.ts";

/** Exit statuses of src/runtime/deno/main.ts. */
export const Exit = {
  /** Drained and stopped after SIGTERM/SIGINT, or --help/--version. */
  Ok: 0,
  /** A failure while running, or a second signal during a drain. */
  Failure: 1,
  /** A bad option or environment variable (nothing was started). */
  BadOption: 2,
  /** The address could not be listened on, or the TLS pair could not be used. */
  CannotListen: 3,
} as const;

/**
 * The one-line reason a start failed, for the errors a start is expected to meet; null for any
 * other error (a bug: the caller prints its stack).
 */
export function describeStartError(err: unknown, host: string, port: number): string | null {
  const at = `cannot listen on ${hostPort(host, port)}`;
  if (err instanceof TlsFilesError) return `cannot use the TLS pair: ${err.message}`;
  if (err instanceof Deno.errors.AddrInUse) {
    return `${at}: the address is in use (another process listens there; choose another --port / PORT)`;
  }
  if (err instanceof Deno.errors.AddrNotAvailable) {
    return `${at}: ${host} is not an address of this machine (--host / HOST)`;
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return `${at}: permission denied (ports below 1024 need privileges)`;
  }
  if (err instanceof Deno.errors.NotCapable) {
    return `cannot start: Deno's permissions do not allow it (${(err as Error).message})`;
  }
  // A host name that does not resolve: Deno reports it as a plain Error (or a URIError when
  // the name is not a host at all).
  if (err instanceof URIError || (err instanceof Error && /lookup address/.test(err.message))) {
    return `${at}: the host ${
      JSON.stringify(host)
    } does not resolve (--host / HOST): ${err.message}`;
  }
  return null;
}
