// The timing policy of one connection: the keepalive decision (driven by the server's periodic
// sweep, not a timer per connection), the close timer, and the grace period of a shutdown.
// It owns the connection's timers; the connection acts on what it says.

/** What the keepalive sweep asks of a connection. */
export type KeepaliveAction =
  | "active" // input arrived since the last sweep
  | "quiet" // nothing arrived since the last sweep, but it is not yet time to ping
  | "ping" // idle for the ping interval: send a ping
  | "dead"; // no answer to the ping within the ping timeout: drop the connection

/** Keepalive timing: idle time before a ping, and the wait for any input after it. */
export interface KeepaliveTiming {
  pingInterval: number;
  pingTimeout: number;
}

/** Timers and keepalive state of one connection. */
export class Liveness {
  #inputs = 0;
  #seenInputs = 0;
  #lastActive = 0;
  #pingSentAt = 0;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  /** Input arrived. */
  input(): void {
    this.#inputs++;
  }

  /** The keepalive decision at time `now` (ms); called by the server's sweep. */
  sweep(now: number, timing: KeepaliveTiming): KeepaliveAction {
    if (this.#inputs !== this.#seenInputs || this.#lastActive === 0) {
      this.#seenInputs = this.#inputs;
      this.#lastActive = now;
      this.#pingSentAt = 0;
      return "active";
    }
    if (this.#pingSentAt === 0) {
      if (now - this.#lastActive < timing.pingInterval) return "quiet";
      this.#pingSentAt = now;
      return "ping";
    }
    return now - this.#pingSentAt >= timing.pingTimeout ? "dead" : "quiet";
  }

  /** Calls `expire` after `ms` unless disarmed; a timer already armed is left running. */
  armClose(ms: number, expire: () => void): void {
    this.#closeTimer ??= setTimeout(() => {
      this.#closeTimer = undefined;
      expire();
    }, ms);
  }

  /** (Re)starts the grace period of a shutdown: `expire` runs after `ms` without input. */
  armGrace(ms: number, expire: () => void): void {
    clearTimeout(this.#graceTimer);
    this.#graceTimer = setTimeout(expire, ms);
  }

  /** Clears every timer (the connection has ended). */
  dispose(): void {
    clearTimeout(this.#closeTimer);
    clearTimeout(this.#graceTimer);
  }
}
