/** Checks a finished download passes before it takes its final name: size, checksums, and "is this an HTML page?". */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { pipeline } from "node:stream/promises";
import { DownloadError, type DownloadErrorCode } from "./errors";

/** Size of a regular file, undefined when there is none. */
export async function fileSize(p: string): Promise<number | undefined> {
  try {
    const st = await fs.promises.stat(p);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** Hex digest of a file, streamed (works for multi-GB archives). */
export async function hashFile(file: string, algorithm: "sha256" | "md5" = "sha256"): Promise<string> {
  const h = crypto.createHash(algorithm);
  await pipeline(fs.createReadStream(file), h);
  return h.digest("hex");
}

/** Whether the destination is itself meant to be an HTML page (then an HTML answer is no sign of trouble). */
export function expectsHtml(part: string): boolean {
  return /\.html?(\.part)?$/i.test(part);
}

/** An HTML page where a binary or JSON file was expected (servers send these with 200 and a binary Content-Type too). */
export async function looksLikeHtml(file: string): Promise<boolean> {
  const fd = await fs.promises.open(file, "r");
  try {
    const { buffer, bytesRead } = await fd.read(Buffer.alloc(512), 0, 512, 0);
    const head = buffer.subarray(0, bytesRead).toString("latin1").replace(/^\uFEFF?\s+/, "").toLowerCase();
    return head.startsWith("<!doctype html") || head.startsWith("<html") || head.startsWith("<head") || head.startsWith("<body");
  } finally {
    await fd.close();
  }
}

export async function verify(file: string, url: string, name: string, expect: { size?: number; sha256?: string; md5?: string }): Promise<void> {
  const fail = async (code: DownloadErrorCode, what: string, expected: string | number, actual: string | number) => {
    await fs.promises.rm(file, { force: true });
    throw new DownloadError(
      code, url,
      `${name}: ${what} mismatch for ${url}: expected ${expected}, got ${actual}. The download was discarded; ` +
        `try again, and if it keeps failing the file on the server differs from the one this course expects.`,
    );
  };
  if (expect.size !== undefined) {
    const got = (await fileSize(file)) ?? 0;
    if (got !== expect.size) await fail("size", "size", `${expect.size} bytes`, `${got} bytes`);
  }
  if (expect.sha256) {
    const got = await hashFile(file, "sha256");
    if (got.toLowerCase() !== expect.sha256.toLowerCase()) await fail("checksum", "SHA-256", expect.sha256.toLowerCase(), got);
  }
  if (expect.md5) {
    const got = await hashFile(file, "md5");
    if (got.toLowerCase() !== expect.md5.toLowerCase()) await fail("checksum", "MD5", expect.md5.toLowerCase(), got);
  }
}
