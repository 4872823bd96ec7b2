// A small typed flag parser shared by the sub-commands: every flag is declared with its type,
// default, range and help, so a bad flag or value gets one line naming the flag, the value and
// what is allowed. The same specs check the values of a JSON settings file (jsonValue), with
// JSON's own types taken strictly.

export class UsageError extends Error {}

export type FlagType = "int" | "number" | "string" | "bool";

export interface FlagSpec {
  type: FlagType;
  /** Default value (undefined = no default). */
  default?: unknown;
  /** Allowed values of a string flag. */
  allowed?: readonly string[];
  /** Inclusive bounds of a number. */
  min?: number;
  max?: number;
  /** Exclusive lower bound: the number must be greater than this. */
  above?: number;
  /** `inf` / `Infinity` accepted (the help says what it means); otherwise a number must be finite. */
  infinite?: boolean;
  /** Words a number flag takes besides numbers (e.g. "auto"); the value is then the word. */
  words?: readonly string[];
  help: string;
}

export type FlagTable = Record<string, FlagSpec>;

/** Parses `--name value`, `--name=value` and bare `--bool` flags. Positional args are returned apart. */
export function parseFlags(cmd: string, argv: readonly string[], table: FlagTable, base: Record<string, unknown> = {}):
  { flags: Record<string, unknown>; positional: string[]; given: Set<string> } {
  const flags: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(table)) if (s.default !== undefined) flags[k] = s.default;
  for (const [k, v] of Object.entries(base)) flags[k] = v;
  const positional: string[] = [];
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) { positional.push(a); continue; }
    let name = a.slice(2), value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
    const spec = table[name];
    if (!spec) throw new UsageError(`${cmd}: unknown flag --${name} (allowed: ${Object.keys(table).map((k) => "--" + k).join(" ")})`);
    if (spec.type === "bool") {
      flags[name] = value === undefined ? true : parseBool(cmd, name, value);
    } else {
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined || value.startsWith("--")) throw new UsageError(`${cmd}: --${name} needs a value (${describe(spec)})`);
      }
      flags[name] = coerce(cmd, name, spec, value);
    }
    given.add(name);
  }
  return { flags, positional, given };
}

function parseBool(cmd: string, name: string, v: string): boolean {
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new UsageError(`${cmd}: --${name} takes true or false, got '${v}'`);
}

/** What a flag accepts, e.g. "an integer in [1, 100000]", "a number > 0, or inf". */
export function describe(s: FlagSpec): string {
  if (s.type === "bool") return "true or false";
  if (s.type === "string") return s.allowed ? `one of ${s.allowed.join(", ")}` : "a string";
  const kind = s.type === "int" ? "an integer" : s.infinite ? "a number" : "a finite number";
  const lower = s.above !== undefined ? `> ${s.above}` : s.min !== undefined ? `≥ ${s.min}` : "";
  const range = s.min !== undefined && s.max !== undefined ? ` in [${s.min}, ${s.max}]`
    : s.above !== undefined && s.max !== undefined ? ` in (${s.above}, ${s.max}]`
    : lower ? ` ${lower}` : s.max !== undefined ? ` ≤ ${s.max}` : "";
  return `${kind}${range}${s.infinite ? ", or inf" : ""}${s.words ? `, or ${s.words.join(", ")}` : ""}`;
}

/** Decimal notation only: digits, optional sign, decimal point and exponent (no hex, no blanks). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INFINITY_WORDS: readonly string[] = ["inf", "Infinity"];

/** Whether number v meets the spec's integrality, finiteness and range. */
function inRange(s: FlagSpec, v: number): boolean {
  if (Number.isNaN(v)) return false;
  if (s.type === "int" ? !Number.isInteger(v) : !Number.isFinite(v) && !(s.infinite && v === Infinity)) return false;
  if (s.above !== undefined && !(v > s.above)) return false;
  if (s.min !== undefined && v < s.min) return false;
  return !(s.max !== undefined && v > s.max);
}

/** Converts and validates one command-line value (a string). */
export function coerce(cmd: string, name: string, spec: FlagSpec, raw: string): unknown {
  const bad = () => new UsageError(`${cmd}: --${name} must be ${describe(spec)}, got '${raw}'`);
  switch (spec.type) {
    case "bool":
      return parseBool(cmd, name, raw);
    case "string":
      if (spec.allowed && !spec.allowed.includes(raw)) throw bad();
      return raw;
    case "int": case "number": {
      if (spec.words?.includes(raw)) return raw;
      // Number() alone would take "0x10", " 8 ", "" and "1e999" (→ Infinity).
      const v = INFINITY_WORDS.includes(raw) ? Infinity : DECIMAL.test(raw) && Number.isFinite(Number(raw)) ? Number(raw) : NaN;
      if (!inRange(spec, v)) throw bad();
      return v;
    }
  }
}

/** What JSON type a value is, for messages ("a boolean", "an array", …). */
function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return typeof v === "string" ? "a string" : typeof v === "boolean" ? "a boolean" : typeof v === "number" ? "a number" : typeof v;
}

function show(v: unknown): string {
  const s = typeof v === "number" && !Number.isFinite(v) ? String(v) : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + "…" : s;
}

/**
 * Checks one value of a settings object (JSON, or a programmatic partial config) against its spec.
 * Types are strict: a number must be a number, an int integral, a string a string, a bool a boolean.
 * Where the spec allows infinity, "inf", "Infinity" and null (JSON.stringify's Infinity) mean
 * Infinity; null anywhere else is refused. Returns the value, or the problem in words.
 */
export function jsonValue(spec: FlagSpec, raw: unknown): { value: unknown } | { problem: string } {
  const bad = (hint = "") => ({ problem: `must be ${describe(spec)}, got ${show(raw)}${hint}` });
  if (raw === null && !(spec.infinite && spec.type === "number")) {
    return bad(spec.type === "number" ? " (null stands for infinity, not allowed here; leave the key out for the default)" : " (leave the key out for the default)");
  }
  switch (spec.type) {
    case "bool":
      return typeof raw === "boolean" ? { value: raw } : bad(` (${jsonType(raw)}; write true or false)`);
    case "string":
      if (typeof raw !== "string") return bad(` (${jsonType(raw)})`);
      return spec.allowed && !spec.allowed.includes(raw) ? bad() : { value: raw };
    case "int": case "number": {
      if (typeof raw === "string" && spec.words?.includes(raw)) return { value: raw };
      const v = raw === null || (spec.infinite && typeof raw === "string" && INFINITY_WORDS.includes(raw)) ? Infinity : raw;
      if (typeof v !== "number") return bad(` (${jsonType(raw)}; write a JSON number${spec.infinite ? ' or "inf"' : ""})`);
      return inRange(spec, v) ? { value: v } : bad();
    }
  }
}

export function helpText(cmd: string, summary: string, table: FlagTable): string {
  const rows = Object.entries(table).map(([k, s]) => {
    const def = s.default === undefined ? "" : ` (default ${s.default === Infinity ? "inf" : s.default})`;
    return `  --${k.padEnd(16)} ${s.help}${s.allowed ? ` [${s.allowed.join("|")}]` : ""}${def}`;
  });
  return `usage: cdl ${cmd} [flags]\n${summary}\n\n${rows.join("\n")}\n`;
}
