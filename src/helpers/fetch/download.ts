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
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import * as lockfile from "proper-lockfile";
import { ENV, offline } from "../config";
import { diskProblem } from "./staleTemp";
import { knownDownload, type KnownDownload } from "./registry";
import { DownloadError, notInCacheMessage, type DownloadErrorCode } from "./errors";
import { expectsHtml, fileSize, looksLikeHtml, verify } from "./verify";
import { beginWork, InterruptedError, isInterruptedError } from "../display/interrupt";
import { downloadMirror, manifestEntry, mirroredLocation, MIRROR_SETTING } from "./mirror";

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
  /**
   * Give up when the whole download (all attempts) takes longer than this (default 4 hours): a server that trickles
   * a byte now and then never trips the idle timeout. The `.part` file is kept, so a rerun resumes.
   */
  deadlineMs?: number;
  /** Cancel the download (e.g. the kernel's interrupt); the `.part` file is kept, so a rerun resumes. */
  signal?: AbortSignal;
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

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      r();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

interface Validators {
  etag?: string;
  lastModified?: string;
  total?: number;
}

/** Errors worth another attempt: network trouble and server-side failures, not 404s or checksum mismatches. */
class RetryableError extends Error {}

/** Errors the request reports after its response began (e.g. bytes beyond Content-Length), read once the body is done. */
const lateErrors = new WeakMap<http.ClientRequest, Error>();
const requestOf = new WeakMap<http.IncomingMessage, http.ClientRequest>();

function requestOnce(
  url: URL,
  headers: Record<string, string>,
  idleTimeoutMs: number,
  signal?: AbortSignal,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === "https:" ? https : http;
    const req = mod.get(url, { headers: { "user-agent": "transfer-learning-ts-course", ...headers }, signal }, (res) => {
      requestOf.set(res, req);
      resolve(res);
    });
    req.setTimeout(idleTimeoutMs, () => req.destroy(new RetryableError(`no response from ${url.host} for ${idleTimeoutMs} ms`)));
    req.on("error", (e) => {
      lateErrors.set(req, e);
      reject(e instanceof RetryableError ? e : new RetryableError(`${(e as Error).message}`));
    });
  });
}

/** Follow up to 5 redirects; an https -> http downgrade needs allowInsecure. */
async function get(url: URL, headers: Record<string, string>, opts: DownloadOptions, idleTimeoutMs: number, signal?: AbortSignal): Promise<http.IncomingMessage> {
  let current = url;
  for (let hop = 0; hop <= 5; hop++) {
    const res = await requestOnce(current, headers, idleTimeoutMs, signal);
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
  hasChecksum: boolean,
  signal: AbortSignal,
): Promise<{ resumed: boolean }> {
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
  const strongEtag = validators.etag && !validators.etag.startsWith("W/") ? validators.etag : undefined;
  if (have > 0 && !strongEtag && !validators.lastModified && !hasChecksum) {
    // Nothing can tell us the server still has the same file: a resumed tail could belong to another one. Start over.
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
  const res = await get(url, headers, opts, idleTimeoutMs, signal);
  const status = res.statusCode ?? 0;

  if (status === 416 && have > 0) {
    res.resume();
    // Range not satisfiable: either the part is already complete, or it is longer than the file now is.
    const m = /bytes \*\/(\d+)/.exec(String(res.headers["content-range"] ?? ""));
    if (m && Number(m[1]) === have) return { resumed: true };
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
  const refuse = (code: DownloadErrorCode, why: string): never => {
    res.resume();
    throw new DownloadError(code, url.href, `Downloading ${url.href}: ${why}. Nothing was saved under the final name; check the URL, or download the file by hand.`);
  };
  if (status === 206 && have === 0) refuse("http", "the server answered a plain request (no Range) with 206 Partial Content, so the body is only part of the file");
  const type = String(res.headers["content-type"] ?? "").toLowerCase();
  if (type.startsWith("text/html") && !expectsHtml(part)) {
    refuse("content-type", `the server sent an HTML page (Content-Type ${type}) instead of the file (a login, error or \"moved\" page?)`);
  }
  const chunked = /\bchunked\b/i.test(String(res.headers["transfer-encoding"] ?? ""));
  if (len === undefined && !chunked && expectedSize === undefined && !hasChecksum) {
    // Only the connection closing ends such a body, so a cut-off transfer would look complete.
    refuse("size", "the server sent neither a Content-Length nor a chunked body, so a transfer cut short cannot be told from a complete one; pass { size } or { sha256 } to verify it");
  }
  if (status === 206) {
    const m = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(String(res.headers["content-range"] ?? ""));
    if (!m || Number(m[1]) !== have || (m[3] !== "*" && Number(m[2]) !== Number(m[3]) - 1) || (len !== undefined && len !== Number(m[2]) - have + 1)) {
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
    await pipeline(res, counter, fs.createWriteStream(part, { flags: append ? "a" : "w" }), { signal });
  } catch (e) {
    if (isInterruptedError(e)) throw e;
    const disk = diskProblem(e);
    if (disk) {
      // Retrying cannot help, and "network trouble" would send the user looking in the wrong place.
      throw new DownloadError("disk", url.href, `Cannot save ${url.href} to ${part}: ${disk}. The ${received} bytes received are kept there; ` +
        `free space (or make the folder writable), or set ${ENV.cacheDir} to a folder on a disk with room, and run again to resume.`);
    }
    throw new RetryableError(`transfer interrupted after ${received} bytes: ${(e as Error).message}`);
  } finally {
    work.end();
  }
  report(true);
  await new Promise((r) => setImmediate(r));
  const req = requestOf.get(res);
  const late = req && lateErrors.get(req);
  if (late && /^HPE_/.test(String((late as NodeJS.ErrnoException).code))) {
    // More bytes came than the Content-Length announced: the length (and so the file) cannot be trusted.
    await fs.promises.rm(part, { force: true });
    await fs.promises.rm(metaFile, { force: true });
    throw new DownloadError("size", url.href, `Downloading ${url.href}: the server sent more bytes than its Content-Length (${len}) announced, ` +
      `so the saved file cannot be trusted and was discarded. Try again later, or download the file by hand.`);
  }
  // A server that closes cleanly but early (no chunked-encoding error) still leaves a short file.
  const expectedEnd = status === 206 ? total : len !== undefined ? len : total;
  if (expectedEnd !== undefined && received < expectedEnd) {
    throw new RetryableError(`transfer ended after ${received} of ${expectedEnd} bytes`);
  }
  return { resumed: append };
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

  const { parsed: official, known } = checkUrl(url, opts);
  const name = opts.name ?? known?.name ?? path.basename(dest);
  // A manifest entry (TL_DOWNLOAD_MANIFEST) replaces the whole expectation: a mirror's own files are not the official ones.
  const listed = manifestEntry(url);
  const expect = listed
    ? { size: listed.size, sha256: listed.sha256, md5: listed.md5 }
    : { size: opts.size ?? known?.size, sha256: opts.sha256 ?? known?.sha256, md5: opts.md5 ?? known?.md5 };
  // The registry judged the official URL; the mirror (validated when read: https, loopback http or a directory) serves it.
  const mirror = downloadMirror();
  const mirrored = mirror ? mirroredLocation(url, mirror) : undefined;
  const parsed = mirror?.kind === "url" ? new URL(mirrored!) : official;
  const isOffline = opts.offline ?? offline();
  if (isOffline) {
    throw new DownloadError("not-in-cache", url, notInCacheMessage(name, path.dirname(dest), url) + ` (${ENV.offline} is set, so nothing is downloaded.)`);
  }

  try {
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  } catch (e) {
    throw new DownloadError("not-in-cache", url, notInCacheMessage(name, path.dirname(dest), url) + ` (cannot create the folder: ${(e as Error).message})`, { cause: e });
  }

  // One signal for the caller's cancel and our overall deadline; every request, body and retry pause listens to it.
  const deadlineMs = opts.deadlineMs ?? 4 * 3_600_000;
  const controller = new AbortController();
  const signal = controller.signal;
  let timedOut = false;
  const deadline = setTimeout(() => { timedOut = true; controller.abort(); }, deadlineMs);
  deadline.unref?.();
  const onAbort = () => controller.abort();
  if (opts.signal?.aborted) controller.abort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await lockedDownload();
  } finally {
    clearTimeout(deadline);
    opts.signal?.removeEventListener("abort", onAbort);
  }

  async function lockedDownload(): Promise<string> {
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
      if (signal.aborted) throw new DownloadError(timedOut ? "timeout" : "aborted", url, `Waiting for another process's download of ${dest} was ${timedOut ? "stopped by the deadline" : "cancelled"}.`);
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
    const hasChecksum = !!(expect.sha256 || expect.md5);
    const stopped = () => {
      if (!signal.aborted) return undefined;
      const kept = fs.existsSync(part) ? ` The partial file ${part} is kept; run again to resume.` : "";
      return timedOut
        ? new DownloadError("timeout", url, `Downloading ${name} from ${url} did not finish within ${Math.round(deadlineMs / 1000)} s (a very slow or stalled server?).${kept} Or pass a larger { deadlineMs }.`)
        : new DownloadError("aborted", url, `Downloading ${name} from ${url} was cancelled.${kept}`);
    };
    let lastError: unknown;
    let resumed = false;
    const attempts = async () => {
      lastError = undefined;
      for (let i = 0; i <= retries; i++) {
        if (i > 0) await sleep(delay * 2 ** (i - 1), signal);
        const stop = stopped();
        if (stop) throw stop;
        try {
          resumed = (await attempt(parsed, part, metaFile, opts, idle, expect.size, hasChecksum, signal)).resumed;
          lastError = undefined;
          break;
        } catch (e) {
          lastError = e;
          const stop2 = stopped();
          if (stop2) throw stop2;
          if (!(e instanceof RetryableError)) {
            if (e instanceof DownloadError && (e.code === "content-type" || e.code === "size")) await fs.promises.rm(metaFile, { force: true });
            throw e;
          }
        }
      }
    };
    if (mirror?.kind === "directory") await copyFromDirectory(mirrored!, part, url, name);
    else await attempts();
    if (lastError) {
      const msg = (lastError as Error).message;
      const unreachable = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ENETUNREACH|EHOSTUNREACH/.test(msg);
      if (unreachable) {
        throw new DownloadError("not-in-cache", url, notInCacheMessage(name, path.dirname(dest), url) + ` (the download failed: ${msg})`, { cause: lastError });
      }
      throw new DownloadError("network", url, `Downloading ${name} from ${url} failed after ${retries + 1} attempts: ${msg}. ` +
        `Run again to resume from ${part}, or download the file by hand to ${dest}.`, { cause: lastError });
    }
    if (!lastError && !expectsHtml(dest) && (await looksLikeHtml(part))) {
      await fs.promises.rm(part, { force: true });
      await fs.promises.rm(metaFile, { force: true });
      throw new DownloadError("content-type", url, `Downloading ${name} from ${url}: the server sent an HTML page instead of the file (a login, error or "moved" page?). ` +
        `It was discarded, not saved as ${dest}; check the URL, or download the file by hand.`);
    }
    const verified = await verify(part, url, name, expect).then(() => true, async (e) => {
      await fs.promises.rm(metaFile, { force: true });
      // A resumed file that fails its checksum may be an old head with a new tail: one fresh download decides.
      if (resumed && e instanceof DownloadError && e.code !== "size") return false;
      throw e;
    });
    if (!verified) {
      if (mirror?.kind === "directory") await copyFromDirectory(mirrored!, part, url, name);
      else await attempts();
      if (lastError) throw new DownloadError("network", url, `Downloading ${name} from ${url} failed: ${(lastError as Error).message}. Run again, or download the file by hand to ${dest}.`, { cause: lastError });
      await verify(part, url, name, expect).catch(async (e) => {
        await fs.promises.rm(metaFile, { force: true });
        throw e;
      });
    }
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
}

/** A directory mirror's copy of `url` into `part` (then verified like a download). */
async function copyFromDirectory(source: string, part: string, url: string, name: string): Promise<void> {
  try {
    await fs.promises.copyFile(source, part);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new DownloadError("not-in-cache", url, `${name} is not on the mirror: ${source} does not exist (${MIRROR_SETTING} maps ${url} there). ` +
        `Put the file there, or unset ${MIRROR_SETTING} to download it from the official URL.`, { cause: e });
    }
    const disk = diskProblem(e);
    throw new DownloadError(disk ? "disk" : "network", url, `Cannot copy ${name} from the mirror ${source} to ${part}: ${disk ?? (e as Error).message}.`, { cause: e });
  }
}
