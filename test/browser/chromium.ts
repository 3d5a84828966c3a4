/** Debian's Chromium for the real-browser tests, driven by puppeteer-core (which never downloads a browser). */
import * as fs from "node:fs";
import puppeteer, { type Browser } from "puppeteer-core";

/** The Chromium binary: $CHROMIUM_PATH, else Debian's. Tests fail with the fix when it is missing. */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter(Boolean) as string[];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error("Chromium is not installed: run `make setup` (it installs Debian's chromium) or set CHROMIUM_PATH.");
  return found;
}

/** Headless Chromium; as root (containers, CI) its sandbox cannot start, so it runs without. */
export function launchChromium(): Promise<Browser> {
  const args = ["--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage"];
  if (process.getuid?.() === 0) args.push("--no-sandbox");
  return puppeteer.launch({ executablePath: chromiumPath(), headless: true, args, protocolTimeout: 60_000 });
}
