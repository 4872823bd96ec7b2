// The cluster key: 32 random bytes that every node of one cluster holds, kept as 64 hex digits
// (a key file with mode 0600, or the value of CDL_CLUSTER_KEY). It signs every frame and
// handshake (wire.ts). This module reads no environment: the CLI passes the variable's value in.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { ConfigError } from "../errors.ts";
import { source, toHex } from "./wire.ts";

export const KEY_BYTES = 32;

/** A fresh cluster key: 32 bytes from crypto.getRandomValues (key material, not simulation randomness). */
export function generateKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(KEY_BYTES));
}

/** The key as a key file holds it: 64 lower-case hex digits and a newline. */
export function keyToHex(key: Uint8Array): string {
  return toHex(key);
}

/** The key from 64 hex digits (surrounding white space allowed); throws ConfigError naming `what` when malformed. */
export function keyFromHex(text: string, what: string): Uint8Array {
  const s = text.trim();
  if (!/^[0-9a-fA-F]*$/.test(s)) throw new ConfigError(`${what} is not hex: expected ${2 * KEY_BYTES} hex digits (make a key with cdl keygen)`);
  if (s.length !== 2 * KEY_BYTES) throw new ConfigError(`${what} has ${s.length} hex digits, expected ${2 * KEY_BYTES} (make a key with cdl keygen)`);
  const out = new Uint8Array(KEY_BYTES);
  for (let i = 0; i < KEY_BYTES; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Writes `key` to a new file readable by its owner only (mode 0600). Refuses to replace an
 * existing file unless `overwrite` (a cluster's nodes would no longer agree on the key).
 */
export function writeKeyFile(path: string, key: Uint8Array, overwrite = false): void {
  if (key.length !== KEY_BYTES) throw new RangeError(`a cluster key is ${KEY_BYTES} bytes, got ${key.length}`);
  try {
    writeFileSync(path, keyToHex(key) + "\n", { mode: 0o600, flag: overwrite ? "w" : "wx" });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new ConfigError(`key file ${path} already exists (remove it first: the nodes holding it would no longer be let in)`);
    throw new ConfigError(`cannot write key file ${path}: ${code ?? (e as Error).message}`);
  }
}

/**
 * `cdl keygen`: a fresh key, written to `path` (mode 0600, never over an existing file unless
 * `overwrite`) when given; returns its 64 hex digits (for CDL_CLUSTER_KEY when no path is given).
 */
export function keygen(path?: string, overwrite = false): string {
  const key = generateKey();
  if (path !== undefined) writeKeyFile(path, key, overwrite);
  return keyToHex(key);
}

/** The key in a key file; ConfigError when the file is missing, readable by others, or malformed. */
export function readKeyFile(path: string): Uint8Array {
  let text: string, mode: number;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(code === "ENOENT" ? `key file ${path} does not exist (make one with cdl keygen)` : `cannot read key file ${path}: ${code ?? (e as Error).message}`);
  }
  // Like ssh: a key others can read is not secret. Windows reports no such bits.
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    throw new ConfigError(`key file ${path} is readable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 ${path}`);
  }
  return keyFromHex(text, `key file ${path}`);
}

/**
 * The cluster key from a key file or from the value of CDL_CLUSTER_KEY (pass `env:
 * process.env.CDL_CLUSTER_KEY`; empty counts as unset). Exactly one of the two must be given;
 * every problem is a one-line ConfigError.
 */
export function loadClusterKey(from: { file?: string; env?: string }): Uint8Array {
  const env = from.env?.trim() || undefined;
  if (from.file !== undefined && env !== undefined) throw new ConfigError("the cluster key is given twice, by a key file and by CDL_CLUSTER_KEY: give one");
  if (from.file !== undefined) return readKeyFile(from.file);
  if (env !== undefined) return keyFromHex(env, "CDL_CLUSTER_KEY");
  throw new ConfigError("no cluster key: give a key file (make one with cdl keygen) or set CDL_CLUSTER_KEY to its 64 hex digits");
}

/** The key as WebCrypto wants it for HMAC-SHA256 (sign and verify, not extractable). */
export function importKey(key: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", source(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}
