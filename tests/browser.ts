// A real browser for the lab's tests and its benchmark: Debian's Chromium (or CDL_CHROMIUM),
// driven by playwright-core, which downloads nothing; the lab built into a temporary directory and
// served on loopback. Absent Chromium is a skip reason, never a failure.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { buildLab } from "../src/web/build.ts";
import { serveLab, type LabServer } from "../src/web/serve.ts";

/** The Chromium binary to drive, or null. */
export function chromiumPath(): string | null {
  const given = process.env.CDL_CHROMIUM;
  if (given) return existsSync(given) ? given : null;
  return ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p)) ?? null;
}

export const NO_CHROMIUM = "Chromium is not installed (apt-get install chromium, or set CDL_CHROMIUM to a Chromium binary): the lab's browser tests need it";

export interface LabSession { url: string; browser: Browser; close(): Promise<void> }

/** Builds and serves the lab, and launches a headless Chromium; close() stops all of it. */
export async function openLab(): Promise<LabSession> {
  const dir = mkdtempSync(join(tmpdir(), "cdl-lab-"));
  let server: LabServer | null = null, browser: Browser | null = null;
  const close = async () => {
    await browser?.close().catch(() => {});
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const built = await buildLab(join(dir, "lab"));
    server = await serveLab(built.out, 0);
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: chromiumPath()!, args: ["--no-sandbox"], timeout: 60000 });
    return { url: server.url, browser, close };
  } catch (e) {
    await close();
    throw e;
  }
}
