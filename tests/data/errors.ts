// Shared by the data tests: the one-line DatasetError a promise must reject with.
import * as assert from "uvu/assert";
import { DatasetError } from "../../src/data/idx.ts";

/** The message of the DatasetError `p` rejects with (one line); fails the test otherwise. */
export async function datasetError(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) {
    assert.instance(e, DatasetError);
    assert.not.match((e as Error).message, /\n/);
    return (e as Error).message;
  }
  assert.unreachable("expected a DatasetError");
  return "";
}
