// `cdl data list` and `cdl data fetch <name>`: which datasets are on this machine, and getting
// the ones that are not. The only data code that reads the environment (CDL_DATA_BASE_URL) or
// installs signal handlers (SIGINT and SIGTERM, while a fetch runs).
import { DatasetError, DATASETS, fetchCommand, fetchDir, locateDataset } from "../data/registry.ts";
import { DEFAULT_IDLE_TIMEOUT_MS, FETCHABLE, fetchDataset, progressBar } from "../data/fetch.ts";
import { prepareDir } from "../io/dirs.ts";

export interface DataIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Where the download progress bar is drawn. */
  progress: { write(s: string): unknown; isTTY?: boolean };
}

const LIST_HELP = [
  "usage: cdl data list [--data-dir D]",
  "Every dataset: its shape and sample counts, whether it is on this machine and where, or the command that gets it.",
  "  --data-dir D   a directory to look in first (the files directly, or a <name>/ subdirectory of it)",
].join("\n");

const FETCH_HELP = [
  "usage: cdl data fetch <name> [--data-dir D] [--base-url U] [--timeout S]",
  `Downloads <name> (${FETCHABLE.join(", ")}), checks the published MD5s and writes the files only when all of them`,
  "are verified; an error, Ctrl-C or SIGTERM leaves nothing behind.",
  "  --data-dir D   where the files go (default <repo>/data/<name>)",
  "  --base-url U   a mirror to download from (default $CDL_DATA_BASE_URL, else the official URL)",
  `  --timeout S    give up when no data arrives for S seconds (default ${DEFAULT_IDLE_TIMEOUT_MS / 1000})`,
].join("\n");

const USAGE = [
  "usage: cdl data list [--data-dir D]",
  "       cdl data fetch <name> [--data-dir D] [--base-url U] [--timeout S]",
  `  fetchable names: ${FETCHABLE.join(", ")}; cdl data list --help and cdl data fetch --help say more`,
].join("\n");

/** Exit codes of a fetch stopped by a signal: 128 + the signal's number, as shells report it. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** Runs `cdl data <argv>`; returns the exit code (0 ok, 1 failed, 2 usage error, 130/143 stopped by SIGINT/SIGTERM). */
export async function dataCommand(argv: string[], io: DataIo = defaultIo()): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "help" || sub === "--help" || sub === "-h") {
    io.out(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "list" && sub !== "fetch") {
    io.err(`cdl data: unknown sub-command "${sub}" (allowed: list, fetch)`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(sub === "list" ? LIST_HELP : FETCH_HELP);
    return 0;
  }
  const allowed = sub === "list" ? ["--data-dir"] : ["--data-dir", "--base-url", "--timeout"];
  const parsed = parseFlags(rest, allowed);
  if (typeof parsed === "string") {
    io.err(`cdl data ${sub}: ${parsed}`);
    return 2;
  }
  const { flags, positional } = parsed;
  if (sub === "list") {
    if (positional.length) {
      io.err(`cdl data list: unexpected argument "${positional[0]}" (allowed flags: --data-dir D)`);
      return 2;
    }
    io.out(listTable(flags["--data-dir"]));
    return 0;
  }
  if (positional.length !== 1 || !(FETCHABLE as readonly string[]).includes(positional[0])) {
    const got = positional.length === 0 ? "no name" : positional.length > 1 ? `${positional.length} names` : `"${positional[0]}"`;
    io.err(`cdl data fetch: expected one dataset name (allowed: ${FETCHABLE.join(", ")}), got ${got}`);
    return 2;
  }
  const timeout = flags["--timeout"] === undefined ? DEFAULT_IDLE_TIMEOUT_MS / 1000 : Number(flags["--timeout"]);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    io.err(`cdl data fetch: --timeout must be a positive number of seconds, got "${flags["--timeout"]}"`);
    return 2;
  }
  return fetchCommandRun(positional[0], flags["--data-dir"], flags["--base-url"] ?? envBaseUrl(), timeout, io);
}

/**
 * Fetches `name`; SIGINT and SIGTERM abort the download (its .part files are deleted) and give
 * exit code 130 or 143. A data directory that cannot be used is a ConfigError, thrown before
 * any download (one line; the CLI prints it and exits 2).
 */
async function fetchCommandRun(name: string, dataDir: string | undefined, baseUrl: string | undefined, timeoutSeconds: number, io: DataIo): Promise<number> {
  const dir = prepareDir(fetchDir(name, dataDir), dataDir === undefined ? "data directory" : "--data-dir");
  const ac = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => { stoppedBy = sig; ac.abort(); };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const r = await fetchDataset(name, { dir, baseUrl, onProgress: progressBar(io.progress), signal: ac.signal, idleTimeoutMs: timeoutSeconds * 1000 });
    io.out(r.alreadyPresent ? `${name}: already present in ${r.dir}` : `${name}: ${r.files.length} files verified and written to ${r.dir}`);
    return 0;
  } catch (e) {
    if (!(e instanceof DatasetError)) throw e;
    if (stoppedBy) {
      io.err(`cdl data fetch: stopped by ${stoppedBy}; nothing was written`);
      return SIGNAL_EXIT[stoppedBy] ?? 1;
    }
    io.err(`cdl data fetch: ${e.message}`);
    return 1;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

/** The `list` table: every dataset, its counts, where it was found or the command to get it. */
export function listTable(dataDir?: string): string {
  const rows = [["NAME", "SHAPE", "TRAIN", "TEST", "STATUS", "WHERE / HOW TO GET"]];
  for (const d of DATASETS) {
    const loc = locateDataset(d.name, { dataDir });
    const where = loc.found ? (loc.path ?? loc.hint) : d.origin === "fetch" ? fetchCommand(d.name, dataDir) : loc.hint;
    rows.push([d.name, d.shape.join("x"), d.train.toLocaleString("en-US"), d.test.toLocaleString("en-US"),
      loc.found ? (d.origin === "generated" ? "generated" : "found") : "missing", where]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const right = new Set([2, 3]);
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join("  ")).join("\n");
}

/** `--flag value` / `--flag=value` for the allowed flags; anything else is an error message. */
function parseFlags(args: string[], allowed: string[]): { flags: Record<string, string>; positional: string[] } | string {
  const flags: Record<string, string> = {}, positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("-")) { positional.push(a); continue; }
    const eq = a.indexOf("=");
    const key = eq >= 0 ? a.slice(0, eq) : a;
    if (!allowed.includes(key)) return `unknown flag ${key} (allowed: ${allowed.join(", ")})`;
    const value = eq >= 0 ? a.slice(eq + 1) : args[++i];
    if (value === undefined || value === "") return `${key} needs a value`;
    flags[key] = value;
  }
  return { flags, positional };
}

function envBaseUrl(): string | undefined {
  return process.env.CDL_DATA_BASE_URL || undefined;
}

function defaultIo(): DataIo {
  return { out: (l) => console.log(l), err: (l) => console.error(l), progress: process.stderr };
}
