// Errors a user can fix by changing the command line or a config file.
// Each message is ONE line that names the problem and the allowed values, so the CLI can print
// `error: <message>` and exit 2 without a stack trace.

/** A bad option value (unknown name, out-of-range number, malformed spec or file). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
