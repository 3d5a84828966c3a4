/**
 * The real-browser tests' shared harness: Debian's Chromium driven by puppeteer-core (which never downloads a browser).
 * Where Chromium (or another tool a test names) is missing, the tests are skipped and say why; in CI (`CI` set) a
 * missing tool is a failure instead, so a broken set-up cannot pass as a green run.
 */
import * as fs from "node:fs";
import { spawnSync } from "node:child_process";
import puppeteer, { type Browser } from "puppeteer-core";

/** The Chromium binary: $TL_CHROMIUM, else Debian's. */
export const CHROMIUM = process.env.TL_CHROMIUM ?? "/usr/bin/chromium";

/** What a browser test lacks here, as install hints: Chromium, plus any of `commands` not on PATH. */
export function missingForBrowserTests(commands: { command: string; apt: string }[] = []): string[] {
  const missing = [
    fs.existsSync(CHROMIUM) ? "" : `${CHROMIUM} (sudo apt-get install chromium, or set TL_CHROMIUM)`,
    ...commands.map((c) => (spawnSync("sh", ["-c", `command -v ${c.command}`]).status === 0 ? "" : `${c.command} (sudo apt-get install ${c.apt})`)),
  ].filter(Boolean);
  if (missing.length && process.env.CI) throw new Error(`browser tests cannot run in CI: missing ${missing.join(", ")}; make setup installs them`);
  if (missing.length) console.warn(`browser test skipped: missing ${missing.join(", ")}; make setup installs them`);
  return missing;
}

/** Headless Chromium; as root (containers, CI) its sandbox cannot start (no user namespaces), so it runs without. */
export function launchChromium(): Promise<Browser> {
  const args = ["--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage"];
  if (process.getuid?.() === 0) args.push("--no-sandbox");
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args, protocolTimeout: 60_000 });
}
