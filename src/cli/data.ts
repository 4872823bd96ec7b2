// `cdl data list` and `cdl data fetch <name>`: which datasets are on this machine, and getting
// the ones that are not. The only data code that reads the environment (CDL_DATA_BASE_URL) or
// installs a signal handler.
import { DatasetError, DATASETS, fetchCommand, fetchDir, locateDataset } from "../data/registry.ts";
import { FETCHABLE, fetchDataset, progressBar } from "../data/fetch.ts";

export interface DataIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Where the download progress bar is drawn. */
  progress: { write(s: string): unknown; isTTY?: boolean };
}

const USAGE = [
  "usage: cdl data list [--data-dir D]",
  "       cdl data fetch <name> [--data-dir D] [--base-url U]",
  `  fetchable names: ${FETCHABLE.join(", ")}; --base-url defaults to $CDL_DATA_BASE_URL, else the official URL`,
].join("\n");

/** Runs `cdl data <argv>`; returns the exit code (0 ok, 1 failed, 2 usage error). */
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
  const allowed = sub === "list" ? ["--data-dir"] : ["--data-dir", "--base-url"];
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
  return fetchCommandRun(positional[0], flags["--data-dir"], flags["--base-url"] ?? envBaseUrl(), io);
}

async function fetchCommandRun(name: string, dataDir: string | undefined, baseUrl: string | undefined, io: DataIo): Promise<number> {
  const dir = fetchDir(name, dataDir);
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once("SIGINT", onSigint);
  try {
    const r = await fetchDataset(name, { dir, baseUrl, onProgress: progressBar(io.progress), signal: ac.signal });
    io.out(r.alreadyPresent ? `${name}: already present in ${r.dir}` : `${name}: ${r.files.length} files verified and written to ${r.dir}`);
    return 0;
  } catch (e) {
    if (e instanceof DatasetError) {
      io.err(`cdl data fetch: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    process.removeListener("SIGINT", onSigint);
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
