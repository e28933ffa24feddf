// Stopping the process the way an operator stops it. SIGTERM (a container stop) and SIGINT
// (Ctrl-C) start the drain. A repeated signal is "exit now" only once REPEAT_GRACE_MS have
// passed since the first: Ctrl-C under `deno task` reaches the server twice at once (the
// terminal signals the whole process group, and the task runner forwards its own copy), and
// that duplicate must not cut the drain short.
//
// A launcher that goes away without passing the signal on leaves the server running, orphaned:
// npm (`npx deno ...`) signals only the `sh -c` it started, and the shell dies without
// forwarding. The server therefore also drains when its parent process changes (it was
// re-parented: whoever started it is gone). Deno.ppid needs no permission; /proc would need
// --allow-all.

import type { Logger } from "../../log.ts";

/** How long after the first signal a repeated one is taken for a forwarded duplicate. */
export const REPEAT_GRACE_MS = 1000;
/** How often the parent process is checked. */
const PARENT_CHECK_MS = 500;

/**
 * Drains on the first SIGTERM/SIGINT (then exits 0); a signal more than REPEAT_GRACE_MS after
 * it exits at once with status 1. Returns a trigger that starts the same drain for another
 * reason (it never forces an exit).
 */
export function onSignals(drain: () => Promise<void>, log: Logger): (why: string) => void {
  let first = -1;
  const begin = (why: string) => {
    if (first >= 0) return false;
    first = performance.now();
    log.log("info", "stopping", { by: why });
    drain().then(() => Deno.exit(0));
    return true;
  };
  const signalled = (signal: Deno.Signal) => {
    if (begin(signal)) return;
    if (performance.now() - first < REPEAT_GRACE_MS) {
      log.log("info", "signal_ignored", { by: signal, reason: "repeated within the grace period" });
      return;
    }
    log.log("warn", "drain_abandoned", { by: signal });
    Deno.exit(1);
  };
  Deno.addSignalListener("SIGTERM", () => signalled("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => signalled("SIGINT"));
  return (why) => void begin(why);
}

/**
 * Calls `gone` once if this process is re-parented: the process that started it (a launcher
 * such as `npx`'s shell or `deno task`) has exited. Not armed when started by init or a
 * container runtime (parent pid 0 or 1), which never go away under us.
 */
export function watchParent(gone: () => void, log: Logger): void {
  const parent = Deno.ppid;
  if (parent <= 1) return;
  const timer = setInterval(() => {
    const now = Deno.ppid;
    if (now === parent) return;
    clearInterval(timer);
    log.log("info", "parent_gone", { parent, now });
    gone();
  }, PARENT_CHECK_MS);
  Deno.unrefTimer(timer);
}
