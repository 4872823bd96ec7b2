// Output and data directories, checked before any work is done, and files written atomically.
//
// Why not mkdirSync(path, { recursive: true }): on Node 20 it loops forever under /proc (a path
// whose parent exists but refuses new entries), and it reports a file in the way, a dangling
// symlink or a read-only parent with a raw errno. Here each missing component is created on its
// own, and every failure is one ConfigError line naming the flag, the path and what to do.
import { accessSync, constants, closeSync, lstatSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "../errors.ts";

const code = (e: unknown) => (e as NodeJS.ErrnoException)?.code ?? "";

/**
 * Makes sure `path` is a directory this process can write into, creating it and any missing
 * parents; `flag` names the option it came from (e.g. "--out") for the error message.
 * Throws a one-line ConfigError when that cannot be done. Writes a probe file and removes it,
 * so a read-only mount or a full disk is found now, not after the work.
 */
export function prepareDir(path: string, flag: string): string {
  const abs = resolve(path);
  const fail = (why: string): never => { throw new ConfigError(`${flag} ${path}: ${why}`); };
  // Walk up to the first component that exists, then create the missing ones top-down.
  const missing: string[] = [];
  let p = abs;
  for (;;) {
    let isLink = false;
    try {
      isLink = lstatSync(p).isSymbolicLink();
    } catch (e) {
      if (code(e) === "ENOTDIR") fail(`a parent of ${p} is not a directory; choose another path`);
      if (code(e) !== "ENOENT") fail(`cannot inspect ${p} (${code(e) || (e as Error).message})`);
      const up = dirname(p);
      if (up === p) fail("no existing parent directory");
      missing.push(p);
      p = up;
      continue;
    }
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      if (isLink) fail(`${p} is a symbolic link to nothing (${code(e)}); remove it or point it at a directory`);
      fail(`cannot inspect ${p} (${code(e)})`);
    }
    if (!st!.isDirectory()) fail(`${p} exists and is not a directory; choose another path`);
    break;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (e) {
      if (code(e) !== "EEXIST") fail(`cannot create ${dir} (${code(e) || (e as Error).message}); choose a writable location`);
    }
  }
  try {
    accessSync(abs, constants.W_OK);
  } catch (e) {
    fail(`the directory is not writable (${code(e)}); choose a writable location`);
  }
  const probe = join(abs, `.cdl-write-probe-${process.pid}`);
  try {
    const fd = openSync(probe, "w");
    try { writeSync(fd, "probe\n"); } finally { closeSync(fd); }
    unlinkSync(probe);
  } catch (e) {
    try { unlinkSync(probe); } catch { /* it was never created */ }
    fail(`cannot write into the directory (${code(e) || (e as Error).message}); choose a writable location with free space`);
  }
  return abs;
}

/** An error writing a result file: says which file and why, and that the run's results are incomplete. */
export class WriteError extends ConfigError {}

/**
 * Writes `data` to `file` atomically: to `file.tmp-PID`, then rename. A reader never sees a
 * half-written file; on failure (e.g. the disk is full) the temporary file is removed and a
 * WriteError names the file and the cause.
 */
export function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, "w");
    try {
      const buf = typeof data === "string" ? new TextEncoder().encode(data) : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* nothing to clean */ }
    throw new WriteError(`cannot write ${file} (${code(e) || (e as Error).message}); the results in ${dirname(file)} are incomplete`);
  }
}
