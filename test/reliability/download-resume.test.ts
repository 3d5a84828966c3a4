/**
 * Downloads against a local HTTP server on 127.0.0.1 (never any other address): interrupted transfers
 * resume, servers that ignore Range restart cleanly, checksum mismatches discard the file, two processes
 * end with one intact file, retries are bounded, and offline/refused URLs give clear messages.
 */
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DownloadError, ensureDownloaded, ensureExtracted, knownDownload, registerKnownDownload } from "../../src/helpers/fetch";
import { makeZip, tmpDir } from "../helpers/fixtures";
// The zoo registers its model hosts when it loads (checked below).
import "../../src/helpers/models";

const BODY = crypto.randomBytes(256 * 1024 + 123);
const SHA = crypto.createHash("sha256").update(BODY).digest("hex");

interface Hit { path: string; range?: string; status: number }
let hits: Hit[] = [];
let hitTimes: number[] = [];
let slowEnded = 0;
/** Per-path behaviour for the next requests (counted per path). */
let cutFirst = new Set<string>(); // first request to these paths dies half-way
let base = "";
let server: http.Server;
let dir: string;

function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://x");
  const p = url.pathname;
  const range = req.headers.range;
  const nth = hits.filter((h) => h.path === p).length;
  const log = (status: number) => { hits.push({ path: p, range, status }); hitTimes.push(Date.now()); };
  if (p === "/missing.bin") { log(404); res.writeHead(404); res.end(); return; }
  if (p === "/error.bin") { log(503); res.writeHead(503); res.end(); return; }
  if (p === "/redirect.bin") { log(302); res.writeHead(302, { location: "/file.bin" }); res.end(); return; }
  const body = p === "/mini.zip" ? MINI_ZIP : BODY;
  const honourRange = p !== "/norange.bin";
  const m = range && honourRange ? /bytes=(\d+)-/.exec(range) : null;
  const start = m ? Number(m[1]) : 0;
  if (m && start >= body.length) {
    log(416);
    res.writeHead(416, { "content-range": `bytes */${body.length}` });
    res.end();
    return;
  }
  const status = m ? 206 : 200;
  log(status);
  const headers: http.OutgoingHttpHeaders = { "content-length": body.length - start, etag: '"v1"', "accept-ranges": "bytes" };
  if (m) headers["content-range"] = `bytes ${start}-${body.length - 1}/${body.length}`;
  res.writeHead(status, headers);
  const chunk = body.subarray(start);
  if (cutFirst.has(p) && nth === 0) {
    // Send about 40% and kill the connection: a dropped transfer.
    res.write(chunk.subarray(0, Math.floor(chunk.length * 0.4)), () => setTimeout(() => res.destroy(), 20));
    return;
  }
  if (p === "/slow.bin") {
    // 60 slices, 15 ms apart (~0.9 s): long enough for the second process to start while the first downloads.
    let i = 0;
    const step = Math.ceil(chunk.length / 60);
    const tick = () => {
      if (i * step >= chunk.length) { res.end(); slowEnded = Date.now(); return; }
      res.write(chunk.subarray(i * step, (i + 1) * step));
      i++;
      setTimeout(tick, 15);
    };
    tick();
    return;
  }
  res.end(chunk);
}

let MINI_ZIP: Buffer;

beforeAll(async () => {
  MINI_ZIP = makeZip([{ name: "mini/" }, { name: "mini/train/a/1.txt", body: "1" }, { name: "mini/val/a/2.txt", body: "2" }]);
  dir = tmpDir("tl-dl-");
  server = http.createServer(serve);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  hits = [];
  hitTimes = [];
  cutFirst = new Set();
});

// Local test server: plain http on loopback, explicitly allowed; fast retries.
const local = { explicitUrl: true, allowInsecure: true, retryDelayMs: 10, idleTimeoutMs: 5000, offline: false } as const;
let caseNo = 0;
const dest = (name = "file.bin") => path.join(dir, `c${caseNo++}`, name);

describe("ensureDownloaded", () => {
  it("downloads, verifies sha256 and size, reports progress, renames atomically", async () => {
    const d = dest();
    const progress: [number, number | undefined][] = [];
    await ensureDownloaded(`${base}/file.bin`, d, { ...local, sha256: SHA, size: BODY.length, onProgress: (r, t) => progress.push([r, t]) });
    expect(fs.readFileSync(d).equals(BODY)).toBe(true);
    expect(fs.readdirSync(path.dirname(d))).toEqual(["file.bin"]); // no .part, .part.json or .lock left
    expect(progress.at(-1)).toEqual([BODY.length, BODY.length]);
    for (let i = 1; i < progress.length; i++) expect(progress[i]![0]).toBeGreaterThanOrEqual(progress[i - 1]![0]);
    // Present: returned without any request.
    hits = [];
    await ensureDownloaded(`${base}/file.bin`, d, local);
    expect(hits).toEqual([]);
  });

  it("interrupted transfer: the next attempt resumes with a Range request (no retry within the call)", async () => {
    const d = dest();
    cutFirst.add("/file.bin");
    const err = await ensureDownloaded(`${base}/file.bin`, d, { ...local, retries: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe("network");
    expect((err as Error).message).toMatch(/resume/);
    const partSize = fs.statSync(`${d}.part`).size;
    expect(partSize).toBeGreaterThan(0);
    expect(partSize).toBeLessThan(BODY.length);
    expect(fs.existsSync(d)).toBe(false);
    await ensureDownloaded(`${base}/file.bin`, d, { ...local, sha256: SHA });
    expect(fs.readFileSync(d).equals(BODY)).toBe(true);
    expect(hits.map((h) => [h.status, h.range])).toEqual([[200, undefined], [206, `bytes=${partSize}-`]]);
  });

  it("interrupted transfer within one call: retried and resumed automatically", async () => {
    const d = dest();
    cutFirst.add("/file.bin");
    await ensureDownloaded(`${base}/file.bin`, d, { ...local, sha256: SHA });
    expect(fs.readFileSync(d).equals(BODY)).toBe(true);
    expect(hits.map((h) => h.status)).toEqual([200, 206]);
  });

  it("server that ignores Range (answers 200): restarts from zero, file still intact", async () => {
    const d = dest();
    cutFirst.add("/norange.bin");
    await ensureDownloaded(`${base}/norange.bin`, d, { ...local, sha256: SHA });
    expect(fs.readFileSync(d).equals(BODY)).toBe(true);
    expect(hits.map((h) => h.status)).toEqual([200, 200]);
    expect(hits[1]!.range).toMatch(/^bytes=\d+-$/); // we asked to resume; the server refused by sending it all
  });

  it("a .part that is already complete is finished with a 416, not re-downloaded", async () => {
    const d = dest();
    fs.mkdirSync(path.dirname(d), { recursive: true });
    fs.writeFileSync(`${d}.part`, BODY);
    await ensureDownloaded(`${base}/file.bin`, d, { ...local, sha256: SHA });
    expect(fs.readFileSync(d).equals(BODY)).toBe(true);
    expect(hits.map((h) => h.status)).toEqual([416]);
  });

  it("checksum mismatch: file discarded, error names expected and actual", async () => {
    const d = dest();
    const wrong = "0".repeat(64);
    const err = await ensureDownloaded(`${base}/file.bin`, d, { ...local, sha256: wrong, name: "test file" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe("checksum");
    const msg = (err as Error).message;
    expect(msg).toContain(`expected ${wrong}`);
    expect(msg).toContain(`got ${SHA}`);
    expect(msg).toContain("discarded");
    expect(fs.existsSync(d)).toBe(false);
    expect(fs.existsSync(`${d}.part`)).toBe(false);
    // Also md5 and size.
    await expect(ensureDownloaded(`${base}/file.bin`, dest(), { ...local, md5: "f".repeat(32) })).rejects.toThrow(/MD5 mismatch.*expected f{32}, got [0-9a-f]{32}/);
    await expect(ensureDownloaded(`${base}/file.bin`, dest(), { ...local, size: 10 })).rejects.toThrow(/10 were expected/);
  });

  it("retries are bounded: 503 three times then a clear error; 404 is not retried", async () => {
    const err = await ensureDownloaded(`${base}/error.bin`, dest(), { ...local, retries: 2 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/failed after 3 attempts: HTTP 503/);
    expect(hits.length).toBe(3);
    hits = [];
    await expect(ensureDownloaded(`${base}/missing.bin`, dest(), local)).rejects.toThrow(/HTTP 404/);
    expect(hits.length).toBe(1);
  });

  it("a stale lock left by a crashed process does not block the download", async () => {
    const d = dest();
    fs.mkdirSync(path.dirname(d), { recursive: true });
    // proper-lockfile's lock is a directory whose mtime is refreshed by its owner; an old one is stale.
    fs.mkdirSync(`${d}.lock`);
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(`${d}.lock`, old, old);
    await ensureDownloaded(`${base}/file.bin`, d, { ...local, sha256: SHA, lockTimeoutMs: 10_000 });
    expect(fs.readFileSync(d).equals(BODY)).toBe(true);
    expect(fs.existsSync(`${d}.lock`)).toBe(false);
  });

  it("a live lock held elsewhere makes us wait, bounded by lockTimeoutMs", async () => {
    const d = dest();
    fs.mkdirSync(path.dirname(d), { recursive: true });
    fs.mkdirSync(`${d}.lock`); // fresh mtime: looks like a running download
    await expect(ensureDownloaded(`${base}/file.bin`, d, { ...local, lockTimeoutMs: 500 })).rejects.toThrow(/Another process has been downloading .* delete .*\.lock/);
    expect(hits).toEqual([]);
  });

  it("registry: known prefixes need no explicitUrl; registered entries supply checksums", async () => {
    expect(knownDownload("https://storage.googleapis.com/teachable-machine-models/m/model.json")?.name).toMatch(/Teachable Machine/);
    expect(knownDownload("https://storage.googleapis.com/other/model.json")).toBeUndefined();
    // Its own path, so the (deliberately wrong) registered checksum cannot affect other tests.
    registerKnownDownload({ url: `${base}/registered.bin`, name: "registered test file", sha256: "1".repeat(64) });
    // No explicitUrl needed now; the registered (wrong) checksum is applied and named in the error.
    await expect(ensureDownloaded(`${base}/registered.bin`, dest(), { allowInsecure: true, offline: false, retryDelayMs: 10 }))
      .rejects.toThrow(/registered test file: SHA-256 mismatch .*expected 1{64}/);
  });

  it("follows redirects", async () => {
    const d = dest();
    await ensureDownloaded(`${base}/redirect.bin`, d, { ...local, sha256: SHA });
    expect(fs.readFileSync(d).equals(BODY)).toBe(true);
  });

  it("offline: missing file gives the 'not in cache' message and makes no request", async () => {
    const d = dest("data.zip");
    const err = await ensureDownloaded(`${base}/file.bin`, d, { ...local, offline: true, name: "test dataset" }).catch((e: unknown) => e);
    expect((err as DownloadError).code).toBe("not-in-cache");
    expect((err as Error).message).toContain(`test dataset is not in ${path.dirname(d)}; download it from ${base}/file.bin, or set TL_CACHE_DIR to a folder that has it`);
    expect(hits).toEqual([]);
    // TL_OFFLINE=1 is honoured when the option is not given.
    const prev = process.env.TL_OFFLINE;
    process.env.TL_OFFLINE = "1";
    try {
      await expect(ensureDownloaded(`${base}/file.bin`, dest(), { explicitUrl: true, allowInsecure: true })).rejects.toThrow(/is not in .*TL_CACHE_DIR/);
    } finally {
      if (prev === undefined) delete process.env.TL_OFFLINE; else process.env.TL_OFFLINE = prev;
    }
    expect(hits).toEqual([]);
  });

  it("unreachable server (connection refused) also says where to get the file", async () => {
    // A port that was just free on loopback: nothing listens there.
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    await expect(ensureDownloaded(`http://127.0.0.1:${port}/x.bin`, dest(), { ...local, retries: 1 })).rejects.toThrow(/is not in .*download it from http:\/\/127\.0\.0\.1/);
  });

  it("URL policy: unregistered URLs need explicitUrl, plain http needs allowInsecure", async () => {
    await expect(ensureDownloaded("https://example.invalid/x.zip", dest(), { offline: false })).rejects.toThrow(/not in the registry of known downloads.*explicitUrl/);
    await expect(ensureDownloaded(`${base}/file.bin`, dest(), { explicitUrl: true, offline: false })).rejects.toThrow(/plain-http.*allowInsecure/);
    await expect(ensureDownloaded("ftp://127.0.0.1/x", dest(), { explicitUrl: true, offline: false })).rejects.toThrow(/only https/);
    expect(hits).toEqual([]);
  });

  it("two processes downloading the same file end with one intact file and one transfer", async () => {
    // Bundle download.ts to CommonJS so plain `node` children can run it.
    const esbuild = await import("esbuild");
    const bundle = path.join(dir, "download.cjs");
    await esbuild.build({
      entryPoints: [path.resolve(__dirname, "../../src/helpers/fetch/download.ts")],
      bundle: true, platform: "node", format: "cjs", outfile: bundle, packages: "external", logLevel: "silent",
    });
    const d = dest("shared.bin");
    const script = `
      process.stdout.write(String(Date.now()));
      const { ensureDownloaded } = require(${JSON.stringify(bundle)});
      ensureDownloaded(process.argv[1], process.argv[2], { explicitUrl: true, allowInsecure: true, offline: false, sha256: process.argv[3], retryDelayMs: 10 })
        .then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });`;
    const starts: number[] = [];
    const run = () => new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(process.execPath, ["-e", script, `${base}/slow.bin`, d, SHA], {
        env: { ...process.env, NODE_PATH: path.resolve(__dirname, "../../node_modules") },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let err = "";
      let out = "";
      child.stdout.on("data", (b) => (out += b));
      child.stderr.on("data", (b) => (err += b));
      const timer = setTimeout(() => child.kill(), 60_000);
      child.on("exit", (code) => { clearTimeout(timer); starts.push(Number(out)); resolve({ code, err }); });
    });
    const results = await Promise.all([run(), run()]);
    expect(results).toEqual([{ code: 0, err: "" }, { code: 0, err: "" }]);
    // Both processes had started before the one transfer ended, so the second really waited on the lock.
    expect(slowEnded).toBeGreaterThan(0);
    expect(Math.max(...starts)).toBeLessThan(slowEnded);
    expect(fs.readFileSync(d).equals(BODY)).toBe(true);
    expect(fs.readdirSync(path.dirname(d))).toEqual(["shared.bin"]);
    // The second process waited for the lock, then found the file: one transfer only.
    expect(hits.filter((h) => h.path === "/slow.bin").length).toBe(1);
  }, 90_000);
});

describe("ensureExtracted (download + safe extract + rename, as the dataset loaders use it)", () => {
  it("downloads a zip, extracts its folder into place, deletes the archive; second call does nothing", async () => {
    const root = path.join(dir, "cache", "datasets");
    const target = path.join(root, "mini");
    const complete = (p: string) => fs.existsSync(path.join(p, "train")) && fs.existsSync(path.join(p, "val"));
    await ensureExtracted("mini dataset", target, { url: `${base}/mini.zip`, file: "mini.zip", subdir: "mini" }, complete, local);
    expect(fs.readFileSync(path.join(target, "val", "a", "2.txt"), "utf8")).toBe("2");
    expect(fs.readdirSync(root)).toEqual(["mini"]); // archive, lock and temp folder gone
    hits = [];
    await ensureExtracted("mini dataset", target, { url: `${base}/mini.zip`, file: "mini.zip", subdir: "mini" }, complete, local);
    expect(hits).toEqual([]);
  });

  it("offline and missing: the message names the dataset, the folder and the URL", async () => {
    const target = path.join(dir, "cache2", "datasets", "mini");
    await expect(
      ensureExtracted("mini dataset", target, { url: `${base}/mini.zip`, file: "mini.zip" }, () => false, { ...local, offline: true }),
    ).rejects.toThrow(`mini dataset is not in ${path.dirname(target)}; download it from ${base}/mini.zip, or set TL_CACHE_DIR to a folder that has it`);
    expect(fs.existsSync(path.dirname(target))).toBe(false); // nothing created when offline
  });
});
