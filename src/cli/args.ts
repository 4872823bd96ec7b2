// A small typed flag parser shared by the sub-commands: every flag is declared with its type,
// default and help, so a bad flag or value gets one line naming the flag and what is allowed.

export class UsageError extends Error {}

export type FlagType = "int" | "number" | "string" | "bool";

export interface FlagSpec {
  type: FlagType;
  /** Default value (undefined = no default). */
  default?: unknown;
  /** Allowed values for a string flag, or a validator returning an error fragment. */
  allowed?: readonly string[];
  min?: number;
  max?: number;
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

function describe(s: FlagSpec): string {
  if (s.allowed) return `one of ${s.allowed.join(", ")}`;
  const range = s.min !== undefined || s.max !== undefined ? ` in [${s.min ?? "-∞"}, ${s.max ?? "∞"}]` : "";
  return `${s.type === "int" ? "an integer" : s.type === "number" ? "a number" : "a string"}${range}`;
}

/** Converts and validates one value (also used for values read from a --config file). */
export function coerce(cmd: string, name: string, spec: FlagSpec, raw: unknown): unknown {
  const bad = () => new UsageError(`${cmd}: --${name} must be ${describe(spec)}, got '${raw}'`);
  switch (spec.type) {
    case "bool":
      if (typeof raw === "boolean") return raw;
      return parseBool(cmd, name, String(raw));
    case "string": {
      const v = String(raw);
      if (spec.allowed && !spec.allowed.includes(v)) throw bad();
      return v;
    }
    case "int": case "number": {
      const v = typeof raw === "number" ? raw : raw === "inf" || raw === "Infinity" ? Infinity : Number(raw);
      if (typeof raw === "string" && raw.trim() === "") throw bad();
      if (Number.isNaN(v) || (spec.type === "int" && !Number.isInteger(v))) throw bad();
      if ((spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max)) throw bad();
      return v;
    }
  }
}

export function helpText(cmd: string, summary: string, table: FlagTable): string {
  const rows = Object.entries(table).map(([k, s]) => {
    const def = s.default === undefined ? "" : ` (default ${s.default})`;
    return `  --${k.padEnd(16)} ${s.help}${s.allowed ? ` [${s.allowed.join("|")}]` : ""}${def}`;
  });
  return `usage: cdl ${cmd} [flags]\n${summary}\n\n${rows.join("\n")}\n`;
}
