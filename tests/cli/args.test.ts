// The flag parser: decimal-only numbers, finiteness and bounds per flag, strict JSON types for
// settings files, and one-line UsageErrors naming the flag, the value and what is allowed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { coerce, describe, jsonValue, parseFlags, UsageError, type FlagSpec, type FlagTable } from "../../src/cli/args.ts";

const TABLE: FlagTable = {
  n: { type: "int", default: 8, min: 1, max: 100, help: "" },
  x: { type: "number", min: 0, help: "" },
  pos: { type: "number", above: 0, help: "" },
  t: { type: "number", above: 0, infinite: true, help: "" },
  s: { type: "string", allowed: ["a", "b"], help: "" },
  free: { type: "string", help: "" },
  flag: { type: "bool", default: false, help: "" },
};

function refuses(argv: string[], pattern: RegExp) {
  try {
    parseFlags("cdl t", argv, TABLE);
  } catch (e) {
    assert.instance(e, UsageError, String(e));
    assert.match((e as Error).message, pattern);
    assert.not.match((e as Error).message, /\n/, "one line");
    return;
  }
  assert.unreachable(`accepted ${argv.join(" ")}`);
}

test("decimal notation is accepted: sign, point, exponent; --name=value and --name value", () => {
  const { flags } = parseFlags("cdl t", ["--n", "1e1", "--x=+.5", "--pos", "2.", "--t", "3E-2", "--s", "b", "--flag"], TABLE);
  assert.equal(flags, { n: 10, x: 0.5, pos: 2, t: 0.03, s: "b", flag: true });
});

test("non-decimal numbers are refused, naming the flag, the value and the range", () => {
  refuses(["--n", "0x10"], /--n must be an integer in \[1, 100\], got '0x10'/);
  for (const v of ["0b11", "0o7", " 8", "8 ", "", "1_000", "1e", ".", "e5", "NaN", "1e999", "--5"]) refuses([`--x=${v}`], /--x must be a finite number ≥ 0/);
});

test("infinity only where the flag allows it: inf and Infinity, never 1e999", () => {
  assert.is(parseFlags("cdl t", ["--t", "inf"], TABLE).flags.t, Infinity);
  assert.is(parseFlags("cdl t", ["--t=Infinity"], TABLE).flags.t, Infinity);
  refuses(["--x", "inf"], /--x must be a finite number ≥ 0, got 'inf'/);
  refuses(["--n", "Infinity"], /--n must be an integer/);
  refuses(["--t", "1e999"], /--t must be a number > 0, or inf, got '1e999'/);
  refuses(["--t", "-inf"], /--t/);
});

test("integers must be integral; bounds are inclusive (min, max) or exclusive (above)", () => {
  refuses(["--n", "1.5"], /--n must be an integer in \[1, 100\], got '1.5'/);
  refuses(["--n", "0"], /got '0'/);
  refuses(["--n", "101"], /got '101'/);
  assert.is(parseFlags("cdl t", ["--n", "100"], TABLE).flags.n, 100);
  refuses(["--pos", "0"], /--pos must be a finite number > 0, got '0'/);
  refuses(["--t", "0"], /--t must be a number > 0, or inf, got '0'/);
  refuses(["--x", "-1"], /got '-1'/);
});

test("strings, bools, unknown flags and missing values", () => {
  refuses(["--s", "c"], /--s must be one of a, b, got 'c'/);
  refuses(["--flag=yes"], /--flag takes true or false, got 'yes'/);
  refuses(["--nope"], /unknown flag --nope \(allowed: --n --x/);
  refuses(["--n"], /--n needs a value \(an integer in \[1, 100\]\)/);
  refuses(["--n", "--x", "1"], /--n needs a value/);
  const r = parseFlags("cdl t", ["word", "--free", "-3", "--flag=0"], TABLE);
  assert.equal(r.positional, ["word"]);
  assert.equal(r.flags, { n: 8, free: "-3", flag: false });
});

test("coerce: one command-line value", () => {
  assert.is(coerce("c", "t", TABLE.t, "inf"), Infinity);
  assert.throws(() => coerce("c", "x", TABLE.x, "0x10"), /--x must be a finite number ≥ 0, got '0x10'/);
});

test("describe: what a flag accepts", () => {
  const d = (s: Omit<FlagSpec, "help">) => describe({ ...s, help: "" });
  assert.is(d({ type: "int", min: 1, max: 5 }), "an integer in [1, 5]");
  assert.is(d({ type: "number", min: 0 }), "a finite number ≥ 0");
  assert.is(d({ type: "number", above: 0, infinite: true }), "a number > 0, or inf");
  assert.is(d({ type: "number", above: 0, max: 1 }), "a finite number in (0, 1]");
  assert.is(d({ type: "number", max: 1 }), "a finite number ≤ 1");
  assert.is(d({ type: "string", allowed: ["a", "b"] }), "one of a, b");
  assert.is(d({ type: "bool" }), "true or false");
});

const value = (spec: FlagSpec, raw: unknown) => {
  const r = jsonValue(spec, raw);
  if ("problem" in r) throw new Error(r.problem);
  return r.value;
};

test("jsonValue: JSON types are strict (no string numbers, no 0/1 booleans, no arrays)", () => {
  assert.is(value(TABLE.n, 4), 4);
  assert.is(value(TABLE.flag, true), true);
  assert.is(value(TABLE.s, "a"), "a");
  assert.throws(() => value(TABLE.n, true), /must be an integer in \[1, 100\], got true \(a boolean; write a JSON number\)/);
  assert.throws(() => value(TABLE.n, "4"), /got "4" \(a string; write a JSON number\)/);
  assert.throws(() => value(TABLE.n, 4.5), /got 4.5$/);
  assert.throws(() => value(TABLE.x, []), /got \[\] \(an array/);
  assert.throws(() => value(TABLE.flag, 1), /must be true or false, got 1 \(a number; write true or false\)/);
  assert.throws(() => value(TABLE.flag, "true"), /got "true" \(a string/);
  assert.throws(() => value(TABLE.s, ["a"]), /must be one of a, b, got \["a"\] \(an array\)/);
  assert.throws(() => value(TABLE.free, {}), /must be a string, got \{\} \(an object\)/);
  assert.throws(() => value(TABLE.free, 3), /must be a string, got 3 \(a number\)/);
  assert.throws(() => value(TABLE.x, Number.NaN), /got NaN/);
});

test("jsonValue: null and \"inf\" mean Infinity where the flag allows it, and are refused elsewhere", () => {
  assert.is(value(TABLE.t, null), Infinity);
  assert.is(value(TABLE.t, "inf"), Infinity);
  assert.is(value(TABLE.t, "Infinity"), Infinity);
  assert.is(value(TABLE.t, Infinity), Infinity, "a programmatic Infinity");
  assert.throws(() => value(TABLE.x, Infinity), /must be a finite number ≥ 0, got Infinity/);
  assert.throws(() => value(TABLE.x, "inf"), /got "inf" \(a string; write a JSON number\)/);
  assert.throws(() => value(TABLE.x, null), /got null \(null stands for infinity, not allowed here/);
  assert.throws(() => value(TABLE.free, null), /must be a string, got null \(leave the key out for the default\)/);
  assert.throws(() => value(TABLE.flag, null), /got null/);
  assert.throws(() => value(TABLE.t, "1e3"), /got "1e3" \(a string; write a JSON number or "inf"\)/);
});

test.run();
