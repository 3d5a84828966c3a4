/**
 * Downloads, round 2, against a raw TCP server on 127.0.0.1 (so it can break HTTP the way real servers and
 * proxies do): resume without a validator, lengths that lie, 206 to a plain GET, HTML instead of the file,
 * trickling servers (overall deadline) and cancellation (AbortSignal).
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DownloadError, ensureDownloaded, type DownloadOptions } from "../../src/helpers/fetch";
import { tmpDir, canMountTmpfs } from "../helpers/fixtures";

const V1 = crypto.randomBytes(64 * 1024);
const V2 = crypto.randomBytes(64 * 1024);
const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

interface Req { path: string; range?: string }
type Handler = (req: Req, sock: net.Socket, nth: number) => void;
let handlers: Record<string, Handler> = {};
let seen: Req[] = [];
let server: net.Server;
let base = "";
let dir: string;
let n = 0;

const head = (status: string, headers: Record<string, string | number>) =>
  `HTTP/1.1 ${status}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;

beforeAll(async () => {
  dir = tmpDir("tl-dlfault-");
  server = net.createServer((sock) => {
    let buf = "";
    sock.on("error", () => undefined);
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      if (!buf.includes("\r\n\r\n")) return;
      const [line, ...rest] = buf.split("\r\n");
      buf = "";
      const p = line!.split(" ")[1]!;
      const range = rest.find((h) => /^range:/i.test(h))?.split(/:\s*/)[1];
      const req = { path: p, range };
      const nth = seen.filter((r) => r.path === p).length;
      seen.push(req);
      const h = handlers[p];
      if (!h) { sock.end(head("404 Not Found", { "content-length": 0, connection: "close" })); return; }
      h(req, sock, nth);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});
afterAll(() => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  handlers = {};
  seen = [];
});

const opts = (o: DownloadOptions = {}): DownloadOptions => ({ explicitUrl: true, allowInsecure: true, retries: 2, retryDelayMs: 10, ...o });
const dest = (name: string) => path.join(dir, `${n++}-${name}`);
async function failure(p: Promise<unknown>): Promise<DownloadError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e, "the download should have failed").toBeInstanceOf(DownloadError);
  return e as DownloadError;
}

/** Serve `body` honouring Range, without any validator (no ETag, no Last-Modified); `cut` drops the first answer at 40%. */
function noValidator(bodyOf: (nth: number) => Buffer, cut = true): Handler {
  return (req, sock, nth) => {
    const body = bodyOf(nth);
    const m = req.range ? /bytes=(\d+)-/.exec(req.range) : null;
    const start = m ? Number(m[1]) : 0;
    const chunk = body.subarray(start);
    const hdr = m
      ? head("206 Partial Content", { "content-length": chunk.length, "content-range": `bytes ${start}-${body.length - 1}/${body.length}`, connection: "close" })
      : head("200 OK", { "content-length": body.length, connection: "close" });
    if (cut && nth === 0) {
      sock.write(hdr);
      sock.write(chunk.subarray(0, Math.floor(chunk.length * 0.4)), () => setTimeout(() => sock.destroy(), 20));
      return;
    }
    sock.end(Buffer.concat([Buffer.from(hdr, "latin1"), chunk]));
  };
}

describe("resuming without a validator", () => {
  it("restarts from zero instead of splicing the new file's tail onto the old file's head", async () => {
    handlers["/nv.bin"] = noValidator((nth) => (nth === 0 ? V1 : V2));
    const f = dest("nv.bin");
    await ensureDownloaded(`${base}/nv.bin`, f, opts());
    expect(seen.map((r) => r.range)).toEqual([undefined, undefined]);
    expect(sha(fs.readFileSync(f))).toBe(sha(V2));
  });

  it("with a registered checksum it resumes, and a resumed file that fails the checksum is fetched once more from zero", async () => {
    handlers["/nvsum.bin"] = noValidator((nth) => (nth === 0 ? V1 : V2));
    const f = dest("nvsum.bin");
    await ensureDownloaded(`${base}/nvsum.bin`, f, opts({ sha256: sha(V2) }));
    expect(seen[1]!.range).toMatch(/^bytes=\d+-$/); // resumed: V1's head + V2's tail fails the checksum
    expect(seen.slice(2).map((r) => r.range)).toEqual([undefined]); // one fresh download
    expect(sha(fs.readFileSync(f))).toBe(sha(V2));
  });
});

describe("lengths that lie", () => {
  it("a body longer than its Content-Length is refused and not saved", async () => {
    handlers["/long.bin"] = (_r, sock) => sock.end(head("200 OK", { "content-length": 10 }) + "0123456789EXTRA-BYTES-THE-SERVER-DID-NOT-ANNOUNCE");
    const f = dest("long.bin");
    const e = await failure(ensureDownloaded(`${base}/long.bin`, f, opts()));
    expect(e.code).toBe("size");
    expect(e.message).toMatch(/sent more bytes than its Content-Length \(10\)/);
    expect(fs.existsSync(f)).toBe(false);
  });

  it("a body without Content-Length that the server cuts short is never taken for the file", async () => {
    handlers["/nolen.bin"] = (_r, sock) => sock.end(Buffer.concat([Buffer.from(head("200 OK", { connection: "close" }), "latin1"), V1.subarray(0, 1000)]));
    const f = dest("nolen.bin");
    const e = await failure(ensureDownloaded(`${base}/nolen.bin`, f, opts()));
    expect(e.message).toMatch(/neither a Content-Length nor a chunked body.*pass \{ size \} or \{ sha256 \}/);
    expect(fs.existsSync(f)).toBe(false);
    // With the size known, the same answer is a cut-off transfer (retried, then reported).
    const e2 = await failure(ensureDownloaded(`${base}/nolen.bin`, f, opts({ size: V1.length })));
    expect(e2.message).toMatch(/transfer ended after 1000 of 65536 bytes/);
    expect(fs.existsSync(f)).toBe(false);
  });

  it("a 206 answer to a plain GET is refused", async () => {
    handlers["/partial.bin"] = (_r, sock) =>
      sock.end(Buffer.concat([Buffer.from(head("206 Partial Content", { "content-length": 100, "content-range": "bytes 0-99/*" }), "latin1"), V1.subarray(0, 100)]));
    const f = dest("partial.bin");
    const e = await failure(ensureDownloaded(`${base}/partial.bin`, f, opts()));
    expect(e.message).toMatch(/answered a plain request \(no Range\) with 206 Partial Content/);
    expect(fs.existsSync(f)).toBe(false);
  });
});

describe("an HTML page instead of the archive", () => {
  const page = "<!DOCTYPE html><html><body>Please sign in</body></html>";
  for (const type of ["text/html; charset=utf-8", "application/octet-stream"]) {
    it(`(${type}) never takes the final name, so the next run downloads the real file`, async () => {
      let fixed = false;
      handlers["/data.zip"] = (_r, sock) => {
        const body = fixed ? V1 : Buffer.from(page);
        sock.end(Buffer.concat([Buffer.from(head("200 OK", { "content-length": body.length, "content-type": fixed ? "application/zip" : type, etag: '"x"' }), "latin1"), body]));
      };
      const f = dest("data.zip");
      const e = await failure(ensureDownloaded(`${base}/data.zip`, f, opts()));
      expect(e.code).toBe("content-type");
      expect(e.message).toMatch(/sent an HTML page/);
      expect(fs.existsSync(f)).toBe(false);
      expect(fs.existsSync(`${f}.part`)).toBe(false);
      fixed = true;
      await ensureDownloaded(`${base}/data.zip`, f, opts());
      expect(sha(fs.readFileSync(f))).toBe(sha(V1));
    });
  }
});

describe("deadline and cancellation", () => {
  /** 1 byte every 40 ms: never idle for long, 3 s in all. */
  const trickle: Handler = (_r, sock) => {
    sock.write(head("200 OK", { "content-length": 75, etag: '"t"' }));
    let i = 0;
    const t = setInterval(() => {
      if (sock.destroyed || i >= 75) { clearInterval(t); sock.end(); return; }
      sock.write("x");
      i++;
    }, 40);
    sock.on("close", () => clearInterval(t));
  };

  it("an overall deadline stops a server that trickles bytes, keeping the .part for a later resume", async () => {
    handlers["/slow.bin"] = trickle;
    const f = dest("slow.bin");
    const t0 = Date.now();
    const e = await failure(ensureDownloaded(`${base}/slow.bin`, f, opts({ idleTimeoutMs: 2000, deadlineMs: 400 })));
    expect(e.code).toBe("timeout");
    expect(e.message).toMatch(/did not finish within 0 s.*run again to resume.*deadlineMs/);
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(fs.existsSync(f)).toBe(false);
    expect(fs.existsSync(`${f}.part`)).toBe(true);
  });

  it("an AbortSignal cancels a running download, and an aborted one never starts", async () => {
    handlers["/slow2.bin"] = trickle;
    const f = dest("slow2.bin");
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const e = await failure(ensureDownloaded(`${base}/slow2.bin`, f, opts({ signal: ac.signal })));
    expect(e.code).toBe("aborted");
    expect(e.message).toMatch(/was cancelled/);
    expect(fs.existsSync(f)).toBe(false);
    seen = [];
    const e2 = await failure(ensureDownloaded(`${base}/slow2.bin`, dest("never.bin"), opts({ signal: AbortSignal.abort() })));
    expect(e2.code).toBe("aborted");
    expect(seen).toEqual([]);
  });
});

// Beyond the issue's list: a full disk while downloading is reported as such, not as network trouble retried 4 times.
const canMount = canMountTmpfs();
describe.skipIf(!canMount)("disk full while downloading (1 MiB tmpfs)", () => {
  it("names ENOSPC and keeps the received bytes for a resume, without retrying", async () => {
    const big = crypto.randomBytes(2 * 1024 * 1024);
    handlers["/big.bin"] = (_r, sock) => sock.end(Buffer.concat([Buffer.from(head("200 OK", { "content-length": big.length, etag: '"b"' }), "latin1"), big]));
    const mnt = fs.mkdtempSync(path.join(dir, "mnt-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
    try {
      const e = await failure(ensureDownloaded(`${base}/big.bin`, path.join(mnt, "big.bin"), opts()));
      expect(e.code).toBe("disk");
      expect(e.message).toMatch(/ENOSPC: the disk is full.*run again to resume/);
      expect(seen).toHaveLength(1);
    } finally {
      spawnSync("umount", [mnt]);
    }
  });
});
