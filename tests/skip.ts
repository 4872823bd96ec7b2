// Tests that cannot run on this machine say why. The convention: each skipped test prints one
// line "SKIP: <reason>"; tests/run.ts collects the reasons and prints each distinct one once,
// with how many tests and runtimes it skipped.
import { test, type Callback } from "uvu";

/**
 * `test`, or, when `reason` is a string, a test that is skipped after printing "SKIP: <reason>".
 * Usage: `skipIf(missing ? "X is not installed (how to get it)" : false)("name", async () => ...)`.
 */
export function skipIf(reason: string | false): (name: string, fn: Callback) => void {
  if (reason === false) return test;
  return (name, fn) => {
    console.log(`SKIP: ${reason}`);
    test.skip(name, fn);
  };
}
