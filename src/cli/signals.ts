// SIGINT and SIGTERM as a request to stop: a long command (a run, a training, a live node, a
// cluster) finishes its current unit of work, saves what it has and exits; a second signal exits
// at once. One helper, so every command treats signals the same way.

export interface StopRequest {
  /** The signal that asked to stop, or null. */
  readonly signal: NodeJS.Signals | null;
  /** Whether a stop was asked (pass it as shouldStop). */
  readonly requested: () => boolean;
  /** The conventional exit code of the stop: 130 for SIGINT, 143 for SIGTERM. */
  exitCode(): number;
  /** Removes the handlers (call it in a finally). */
  release(): void;
}

const codeOf = (sig: NodeJS.Signals | null) => (sig === "SIGTERM" ? 143 : 130);

/** Installs the handlers; `onFirst` is told of the first signal (e.g. to print what happens now). */
export function stopOnSignals(onFirst?: (sig: NodeJS.Signals) => void): StopRequest {
  let signal: NodeJS.Signals | null = null;
  const handler = (sig: NodeJS.Signals) => {
    if (signal) process.exit(codeOf(sig));
    signal = sig;
    onFirst?.(sig);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    get signal() { return signal; },
    requested: () => signal !== null,
    exitCode: () => codeOf(signal),
    release: () => {
      process.removeListener("SIGINT", handler);
      process.removeListener("SIGTERM", handler);
    },
  };
}
