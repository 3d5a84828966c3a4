/**
 * Downloads into the cache: resume (`.part` + Range), size/checksum verification, atomic rename,
 * a lock so concurrent processes end with one intact file, bounded retries, and a clear message
 * when the file is missing and we may not (or cannot) download it.
 *
 * HTTP client: node:http / node:https rather than the global fetch. We need a per-socket idle
 * timeout, manual redirect handling (to refuse https -> http downgrades), byte-exact Range/If-Range
 * control and a Node stream we can pipe straight into a file with backpressure; node:http gives all
 * of that directly, with no web-stream conversion and no undici types in our public .d.ts.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import * as lockfile from "proper-lockfile";
import { ENV, cacheDir, offline } from "../config";
import { beginWork, InterruptedError, isInterruptedError } from "../display/interrupt";

export interface DownloadOptions {
  /** Expected SHA-256 (hex). A mismatch discards the file and throws, naming expected vs actual. */
  sha256?: string;
  /** Expected MD5 (hex); the checksum many dataset authors publish. Same handling as sha256. */
  md5?: string;
  /** Expected size in bytes, when known. */
  size?: number;
  /** Human name for messages, e.g. "hymenoptera dataset". */
  name?: string;
  /** Called as bytes arrive (at most every 100 ms, plus once at the end). `receivedBytes` counts resumed bytes too. */
  onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
  /**
   * The caller (a user, explicitly) vouches for this URL although it is not in the registry of known
   * downloads. Without it only registered URLs are fetched, so a typo or a tampered notebook cannot
   * make the helpers fetch arbitrary addresses.
   */
  explicitUrl?: boolean;
  /** Allow plain http for a URL that is not registered as http-only (tests use it for 127.0.0.1). */
  allowInsecure?: boolean;
  /** Attempts after the first one for network failures (default 3). */
  retries?: number;
  /** Base delay between attempts in ms, doubled each time (default 1000). */
  retryDelayMs?: number;
  /** Abort an attempt when no bytes arrive for this long (default 30 000 ms). */
  idleTimeoutMs?: number;
  /** Give up waiting for another process's lock after this long (default 30 min). */
  lockTimeoutMs?: number;
  /** Override the offline setting (default: TL_OFFLINE). */
  offline?: boolean;
}

/** One entry of the registry of URLs the helpers may fetch without `explicitUrl`. */
export interface KnownDownload {
  /** Exact URL, or a prefix ending in "/" that covers every URL below it. */
  url: string;
  name: string;
  md5?: string;
  sha256?: string;
  size?: number;
  /**
   * The official host serves only plain http (Fashion-MNIST's S3 website, Stanford, Oxford VOC).
   * Registered so the official URLs work; integrity then rests on the pinned checksum where one is published.
   */
  httpOnly?: boolean;
}

const KNOWN: KnownDownload[] = [
  { url: "https://download.pytorch.org/tutorial/hymenoptera_data.zip", name: "hymenoptera dataset" },
  // md5 as published on https://www.cs.toronto.edu/~kriz/cifar.html
  { url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", name: "CIFAR-10 (binary version)", md5: "c32a1d4ab5d03f1284b67883e8d87530" },
  // md5s as published in the Fashion-MNIST README (and torchvision)
  { url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz", name: "Fashion-MNIST train images", md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d", httpOnly: true },
  { url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-labels-idx1-ubyte.gz", name: "Fashion-MNIST train labels", md5: "25c81989df183df01b3e8a0aad5dffbe", httpOnly: true },
  { url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz", name: "Fashion-MNIST test images", md5: "bef4ecab320f06d8554ea6380940ec79", httpOnly: true },
  { url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz", name: "Fashion-MNIST test labels", md5: "bb300cfdad3c16e7a12a480ee83cd310", httpOnly: true },
  { url: "http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar", name: "Stanford Dogs images", httpOnly: true },
  { url: "http://vision.stanford.edu/aditya86/ImageNetDogs/lists.tar", name: "Stanford Dogs lists", httpOnly: true },
  // md5s as in torchvision's VOC dataset definitions
  { url: "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar", name: "Pascal VOC 2007 trainval", md5: "c52e279531787c972589f7e41ab4ae64", httpOnly: true },
  { url: "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtest_06-Nov-2007.tar", name: "Pascal VOC 2007 test", md5: "b6e924de25625d8de591ea690078ad9f", httpOnly: true },
  // Pretrained backbones (models module): Teachable Machine's MobileNet exports and TF.js hosted models.
  { url: "https://storage.googleapis.com/teachable-machine-models/", name: "Teachable Machine model files" },
  { url: "https://storage.googleapis.com/tfjs-models/", name: "TF.js model files" },
  { url: "https://tfhub.dev/", name: "TF Hub model files" },
];

/** Add a URL (or a prefix ending in "/") to the registry, e.g. from another helpers module. */
export function registerKnownDownload(entry: KnownDownload): void {
  const i = KNOWN.findIndex((k) => k.url === entry.url);
  if (i >= 0) KNOWN[i] = entry;
  else KNOWN.push(entry);
}

/** The registry entry covering `url` (exact match first, then the longest prefix), if any. */
export function knownDownload(url: string): KnownDownload | undefined {
  const exact = KNOWN.find((k) => k.url === url);
  if (exact) return exact;
  let best: KnownDownload | undefined;
  for (const k of KNOWN) {
    if (k.url.endsWith("/") && url.startsWith(k.url) && (!best || k.url.length > best.url.length)) best = k;
  }
  return best;
}

/** Why a download failed; `code` lets callers and tests tell the cases apart without parsing text. */
export type DownloadErrorCode = "not-in-cache" | "checksum" | "size" | "http" | "network" | "refused-url" | "lock";

export class DownloadError extends Error {
  readonly code: DownloadErrorCode;
  readonly url: string;
  constructor(code: DownloadErrorCode, url: string, message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = "DownloadError";
    this.code = code;
    this.url = url;
    if (options && "cause" in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The message for a file that is missing while downloads are impossible. */
export function notInCacheMessage(name: string, where: string, url: string): string {
  return `${name} is not in ${where}; download it from ${url}, or set ${ENV.cacheDir} to a folder that has it` +
    ` (current cache: ${cacheDir()}).`;
}

function checkUrl(url: string, opts: DownloadOptions): { parsed: URL; known?: KnownDownload } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DownloadError("refused-url", url, `'${url}' is not a valid URL; pass a full https:// address.`);
  }
  const known = knownDownload(url);
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new DownloadError("refused-url", url, `Refusing to download ${url}: only https (or, explicitly allowed, http) URLs are supported.`);
  }
  if (!known && !opts.explicitUrl) {
    throw new DownloadError(
      "refused-url", url,
      `Refusing to download ${url}: it is not in the registry of known downloads. If you trust it, pass { explicitUrl: true } ` +
        `(and { allowInsecure: true } for http), or register it with registerKnownDownload().`,
    );
  }
  if (parsed.protocol === "http:" && !opts.allowInsecure && !(known && known.httpOnly && known.url === url)) {
    throw new DownloadError(
      "refused-url", url,
      `Refusing plain-http download ${url}: use an https URL, or pass { allowInsecure: true } if you accept an unencrypted transfer.`,
    );
  }
  return { parsed, known };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function fileSize(p: string): Promise<number | undefined> {
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

interface Validators {
  etag?: string;
  lastModified?: string;
  total?: number;
}

/** Errors worth another attempt: network trouble and server-side failures, not 404s or checksum mismatches. */
class RetryableError extends Error {}

function requestOnce(
  url: URL,
  headers: Record<string, string>,
  idleTimeoutMs: number,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === "https:" ? https : http;
    const req = mod.get(url, { headers: { "user-agent": "transfer-learning-ts-course", ...headers } }, resolve);
    req.setTimeout(idleTimeoutMs, () => req.destroy(new RetryableError(`no response from ${url.host} for ${idleTimeoutMs} ms`)));
    req.on("error", (e) => reject(e instanceof RetryableError ? e : new RetryableError(`${(e as Error).message}`)));
  });
}

/** Follow up to 5 redirects; an https -> http downgrade needs allowInsecure. */
async function get(url: URL, headers: Record<string, string>, opts: DownloadOptions, idleTimeoutMs: number): Promise<http.IncomingMessage> {
  let current = url;
  for (let hop = 0; hop <= 5; hop++) {
    const res = await requestOnce(current, headers, idleTimeoutMs);
    const status = res.statusCode ?? 0;
    if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
      res.resume();
      const next = new URL(res.headers.location, current);
      if (next.protocol === "http:" && current.protocol === "https:" && !opts.allowInsecure) {
        throw new DownloadError("refused-url", url.href, `Refusing redirect from ${current.href} to plain-http ${next.href}; pass { allowInsecure: true } to accept it.`);
      }
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new DownloadError("refused-url", url.href, `Refusing redirect to ${next.href}.`);
      }
      current = next;
      continue;
    }
    return res;
  }
  throw new DownloadError("http", url.href, `Too many redirects downloading ${url.href}.`);
}

/** One attempt: continue `.part` if the server honours Range, else start over. Resolves when `.part` is complete. */
async function attempt(
  url: URL,
  part: string,
  metaFile: string,
  opts: DownloadOptions,
  idleTimeoutMs: number,
  expectedSize: number | undefined,
): Promise<void> {
  let have = (await fileSize(part)) ?? 0;
  let validators: Validators = {};
  try {
    validators = JSON.parse(await fs.promises.readFile(metaFile, "utf8")) as Validators;
  } catch {
    // No (or unreadable) metadata: resume only by byte count.
  }
  if (have > 0 && expectedSize !== undefined && have > expectedSize) {
    // A part larger than the whole file can only be garbage.
    await fs.promises.rm(part, { force: true });
    have = 0;
  }
  const headers: Record<string, string> = {};
  if (have > 0) {
    headers.range = `bytes=${have}-`;
    // If-Range: should the file have changed on the server, it sends the whole new file (200) instead of a mismatched tail.
    const v = validators.etag && !validators.etag.startsWith("W/") ? validators.etag : validators.lastModified;
    if (v) headers["if-range"] = v;
  }
  const res = await get(url, headers, opts, idleTimeoutMs);
  const status = res.statusCode ?? 0;

  if (status === 416 && have > 0) {
    res.resume();
    // Range not satisfiable: either the part is already complete, or it is longer than the file now is.
    const m = /bytes \*\/(\d+)/.exec(String(res.headers["content-range"] ?? ""));
    if (m && Number(m[1]) === have) return;
    await fs.promises.rm(part, { force: true });
    throw new RetryableError(`server refused to resume at byte ${have}; starting over`);
  }
  if (status >= 500 || status === 408 || status === 429) {
    res.resume();
    throw new RetryableError(`HTTP ${status} ${res.statusMessage ?? ""}`.trim());
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw new DownloadError("http", url.href, `Downloading ${url.href} failed: HTTP ${status} ${res.statusMessage ?? ""}. Check the URL, or download the file by hand.`.replace(/ +\./, "."));
  }

  let append = false;
  let total: number | undefined;
  const len = res.headers["content-length"] !== undefined ? Number(res.headers["content-length"]) : undefined;
  if (status === 206) {
    const m = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(String(res.headers["content-range"] ?? ""));
    if (!m || Number(m[1]) !== have) {
      // A range we did not ask for: do not splice it in; start over next attempt.
      res.resume();
      await fs.promises.rm(part, { force: true });
      throw new RetryableError(`server sent an unexpected range (${res.headers["content-range"]}); starting over`);
    }
    append = true;
    total = m[3] === "*" ? undefined : Number(m[3]);
  } else {
    // 200: the server ignored Range (or the file changed): restart from zero.
    have = 0;
    total = len;
  }
  total ??= expectedSize;
  if (expectedSize !== undefined && total !== undefined && total !== expectedSize) {
    res.resume();
    throw new DownloadError("size", url.href, `${url.href} is ${total} bytes on the server, but ${expectedSize} were expected; the file has changed or the URL is wrong.`);
  }
  const meta: Validators = { total };
  if (typeof res.headers.etag === "string") meta.etag = res.headers.etag;
  if (typeof res.headers["last-modified"] === "string") meta.lastModified = res.headers["last-modified"];
  await fs.promises.writeFile(metaFile, JSON.stringify(meta));

  let received = have;
  let lastReport = 0;
  const report = (force: boolean) => {
    if (!opts.onProgress) return;
    const now = Date.now();
    if (force || now - lastReport >= 100) {
      lastReport = now;
      opts.onProgress(received, total);
    }
  };
  report(true);
  // Kernel > Interrupt: stop between chunks; the .part file stays, so a re-run resumes the download.
  const work = beginWork("download");
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (work.interrupted) return cb(new InterruptedError(`download of ${path.basename(part).replace(/\.part$/, "")} stopped after ${received} bytes; re-running the cell resumes it.`));
      received += chunk.length;
      report(false);
      cb(null, chunk);
    },
  });
  // Idle timeout on the body as well as on the headers.
  res.setTimeout?.(idleTimeoutMs, () => res.destroy(new RetryableError(`no data for ${idleTimeoutMs} ms`)));
  try {
    await pipeline(res, counter, fs.createWriteStream(part, { flags: append ? "a" : "w" }));
  } catch (e) {
    if (isInterruptedError(e)) throw e;
    throw new RetryableError(`transfer interrupted after ${received} bytes: ${(e as Error).message}`);
  } finally {
    work.end();
  }
  report(true);
  // A server that closes cleanly but early (no chunked-encoding error) still leaves a short file.
  const expectedEnd = status === 206 ? total : len !== undefined ? len : total;
  if (expectedEnd !== undefined && received < expectedEnd) {
    throw new RetryableError(`transfer ended after ${received} of ${expectedEnd} bytes`);
  }
}

async function verify(file: string, url: string, name: string, expect: { size?: number; sha256?: string; md5?: string }): Promise<void> {
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

/**
 * Make sure `dest` exists: if it does, return it (no network, no writes, so a read-only cache works);
 * else download `url` to it: `<dest>.part` (resumed with a Range request when a previous attempt was
 * cut off), verified against size / sha256 / md5 (given here or in the registry), then renamed into place.
 * A lock (`<dest>.lock`, proper-lockfile, stale after 20 s without a heartbeat) makes a second process wait and
 * then reuse the first one's file. When offline (TL_OFFLINE=1, or the network is unreachable) throws
 * "<name> is not in <dir>; download it from <url>, or set TL_CACHE_DIR to a folder that has it".
 */
export async function ensureDownloaded(url: string, dest: string, opts: DownloadOptions = {}): Promise<string> {
  dest = path.resolve(dest);
  if ((await fileSize(dest)) !== undefined) return dest;

  const { parsed, known } = checkUrl(url, opts);
  const name = opts.name ?? known?.name ?? path.basename(dest);
  const expect = { size: opts.size ?? known?.size, sha256: opts.sha256 ?? known?.sha256, md5: opts.md5 ?? known?.md5 };
  const isOffline = opts.offline ?? offline();
  if (isOffline) {
    throw new DownloadError("not-in-cache", url, notInCacheMessage(name, path.dirname(dest), url) + ` (${ENV.offline} is set, so nothing is downloaded.)`);
  }

  try {
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  } catch (e) {
    throw new DownloadError("not-in-cache", url, notInCacheMessage(name, path.dirname(dest), url) + ` (cannot create the folder: ${(e as Error).message})`, { cause: e });
  }

  const lockTimeoutMs = opts.lockTimeoutMs ?? 30 * 60_000;
  let release: (() => Promise<void>) | undefined;
  let compromised: Error | undefined;
  const lockStart = Date.now();
  // Bounded wait for another process that holds the lock; proper-lockfile marks a lock stale when its
  // owner stops refreshing it (crash), so a dead process cannot block us forever.
  for (;;) {
    try {
      release = await lockfile.lock(dest, { realpath: false, lockfilePath: `${dest}.lock`, stale: 20_000, update: 5_000,
        // Default would throw asynchronously and crash the process; note it and refuse to publish instead.
        onCompromised: (err) => { compromised = err; } });
      break;
    } catch (e) {
      if ((e as { code?: string }).code !== "ELOCKED") {
        throw new DownloadError("lock", url, `Cannot lock ${dest}.lock to download ${name}: ${(e as Error).message}. Is the cache folder writable?`, { cause: e });
      }
      if (Date.now() - lockStart > lockTimeoutMs) {
        throw new DownloadError("lock", url, `Another process has been downloading ${dest} for over ${Math.round(lockTimeoutMs / 1000)} s; wait for it, or delete ${dest}.lock if no download is running.`);
      }
      await sleep(200);
    }
  }

  try {
    // The other process may have finished while we waited.
    if ((await fileSize(dest)) !== undefined) return dest;
    const part = `${dest}.part`;
    const metaFile = `${dest}.part.json`;
    const retries = Math.max(0, Math.min(opts.retries ?? 3, 20));
    const delay = opts.retryDelayMs ?? 1000;
    const idle = opts.idleTimeoutMs ?? 30_000;
    let lastError: unknown;
    for (let i = 0; i <= retries; i++) {
      if (i > 0) await sleep(delay * 2 ** (i - 1));
      try {
        await attempt(parsed, part, metaFile, opts, idle, expect.size);
        lastError = undefined;
        break;
      } catch (e) {
        lastError = e;
        if (!(e instanceof RetryableError)) throw e;
      }
    }
    if (lastError) {
      const msg = (lastError as Error).message;
      const unreachable = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ENETUNREACH|EHOSTUNREACH/.test(msg);
      if (unreachable) {
        throw new DownloadError("not-in-cache", url, notInCacheMessage(name, path.dirname(dest), url) + ` (the download failed: ${msg})`, { cause: lastError });
      }
      throw new DownloadError("network", url, `Downloading ${name} from ${url} failed after ${retries + 1} attempts: ${msg}. ` +
        `Run again to resume from ${part}, or download the file by hand to ${dest}.`, { cause: lastError });
    }
    await verify(part, url, name, expect).catch(async (e) => {
      await fs.promises.rm(metaFile, { force: true });
      throw e;
    });
    if (compromised) {
      throw new DownloadError("lock", url, `Lost the lock ${dest}.lock while downloading ${name} (${compromised.message}); run again.`);
    }
    await fs.promises.rename(part, dest);
    await fs.promises.rm(metaFile, { force: true });
    return dest;
  } finally {
    await release?.().catch(() => undefined);
  }
}
