/**
 * TL_DOWNLOAD_MIRROR and TL_DOWNLOAD_MANIFEST: the path rule for remote mirrors, a local directory mirror, a loopback
 * http mirror, refusal of plain http to any other host before connecting, and checksums that still apply.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/helpers/config";
import {
  DownloadError, downloadManifest, ensureDownloaded, isLoopbackHost, mirrorBanner, mirroredLocation, parseMirror, registerKnownDownload,
} from "../../../src/helpers/fetch";
import { tmpDir } from "../fixtures";

const OFFICIAL = "https://example.invalid/data/v1/file.bin";
const BODY = crypto.randomBytes(10_000);
const SHA = crypto.createHash("sha256").update(BODY).digest("hex");
registerKnownDownload({ url: OFFICIAL, name: "mirror test file", size: BODY.length, sha256: SHA });

const saved = { mirror: process.env.TL_DOWNLOAD_MIRROR, manifest: process.env.TL_DOWNLOAD_MANIFEST };
afterEach(() => {
  for (const [k, v] of [["TL_DOWNLOAD_MIRROR", saved.mirror], ["TL_DOWNLOAD_MANIFEST", saved.manifest]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe("mirror path rule", () => {
  it("maps an official URL to <mirror>/<host>/<path> on an https base", () => {
    const m = parseMirror("https://mirror.example.org/course");
    expect(mirroredLocation("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", m)).toBe(
      "https://mirror.example.org/course/www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz");
    expect(mirroredLocation("http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar", m)).toBe(
      "https://mirror.example.org/course/host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar");
    // A port stays part of the host folder; an escaped segment is kept escaped.
    expect(mirroredLocation("https://a.example:8443/x%20y/z", parseMirror("https://m.example/"))).toBe("https://m.example/a.example%3A8443/x%20y/z");
  });

  it("maps onto a directory and refuses segments that would leave it", () => {
    const dir = tmpDir("tl-mirror-");
    const m = parseMirror(dir);
    expect(m).toEqual({ kind: "directory", dir });
    expect(mirroredLocation(OFFICIAL, m)).toBe(path.join(dir, "example.invalid", "data", "v1", "file.bin"));
    expect(parseMirror(`file://${dir}`)).toEqual({ kind: "directory", dir });
    // URL parsing already resolves plain and %2E-escaped dot segments; an escaped slash is what could still leave the folder.
    expect(() => mirroredLocation("https://a.example/x/..%2F..%2Fetc/passwd", m)).toThrow(/slashes inside a segment/);
  });

  it("refuses plain http to a host that is not loopback, other schemes and missing directories", () => {
    expect(() => parseMirror("http://mirror.example.org/")).toThrow(ConfigError);
    expect(() => parseMirror("http://mirror.example.org/")).toThrow(/plain http to mirror\.example\.org, which is not a loopback address/);
    expect(() => parseMirror("http://10.0.0.7:8080/")).toThrow(/not a loopback address/);
    expect(() => parseMirror("ftp://mirror.example.org/")).toThrow(/scheme ftp: is not supported/);
    expect(() => parseMirror("/no/such/mirror/dir")).toThrow(/is not an existing directory/);
    expect(parseMirror("http://127.0.0.1:9/m").kind).toBe("url");
    expect(parseMirror("http://localhost:9/").kind).toBe("url");
    expect(isLoopbackHost("[::1]")).toBe(true);
    expect(isLoopbackHost("127.0.0.1.example.org")).toBe(false);
  });

  it("is printed in the banner when set", () => {
    expect(mirrorBanner({})).toBeUndefined();
    expect(mirrorBanner({ TL_DOWNLOAD_MIRROR: "https://m.example/base" })).toBe("downloads from mirror https://m.example/base/ (<mirror>/<host>/<path>)");
  });
});

describe("downloads through a mirror", () => {
  let server: http.Server;
  let hits: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits.push(req.url ?? "");
      if (req.url === "/m/example.invalid/data/v1/file.bin") {
        res.writeHead(200, { "content-length": BODY.length });
        res.end(BODY);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("refuses a plain-http non-loopback mirror before connecting, and saves nothing", async () => {
    const dest = path.join(tmpDir("tl-mirror-cache-"), "file.bin");
    // 192.0.2.1 (TEST-NET-1) is never routed: a connection attempt would hang until the idle timeout, not fail fast.
    process.env.TL_DOWNLOAD_MIRROR = "http://192.0.2.1/";
    const t0 = Date.now();
    await expect(ensureDownloaded(OFFICIAL, dest, { retries: 0 })).rejects.toThrow(/TL_DOWNLOAD_MIRROR=http:\/\/192\.0\.2\.1\/ uses plain http/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(fs.readdirSync(path.dirname(dest))).toEqual([]);
  });

  it("copies from a local directory, and the registered checksum still applies", async () => {
    const mirror = tmpDir("tl-mirror-");
    const src = path.join(mirror, "example.invalid", "data", "v1", "file.bin");
    fs.mkdirSync(path.dirname(src), { recursive: true });
    process.env.TL_DOWNLOAD_MIRROR = mirror;
    const cache = tmpDir("tl-mirror-cache-");

    await expect(ensureDownloaded(OFFICIAL, path.join(cache, "a.bin"))).rejects.toThrow(/not on the mirror: .*file\.bin does not exist/);

    const tampered = Buffer.from(BODY);
    tampered[0] ^= 1;
    fs.writeFileSync(src, tampered);
    const err = await ensureDownloaded(OFFICIAL, path.join(cache, "b.bin")).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe("checksum");
    expect(fs.existsSync(path.join(cache, "b.bin"))).toBe(false);

    fs.writeFileSync(src, BODY);
    const got = await ensureDownloaded(OFFICIAL, path.join(cache, "c.bin"));
    expect(fs.readFileSync(got).equals(BODY)).toBe(true);
    expect(fs.readdirSync(cache).sort()).toEqual(["c.bin"]);
  });

  it("downloads from a loopback http mirror by the path rule", async () => {
    hits = [];
    process.env.TL_DOWNLOAD_MIRROR = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m`;
    const got = await ensureDownloaded(OFFICIAL, path.join(tmpDir("tl-mirror-cache-"), "file.bin"), { retries: 0 });
    expect(fs.readFileSync(got).equals(BODY)).toBe(true);
    expect(hits).toEqual(["/m/example.invalid/data/v1/file.bin"]);
  });

  it("a manifest replaces the registered checksums for the URLs it lists", async () => {
    const mirror = tmpDir("tl-mirror-");
    const standIn = Buffer.from("a stand-in file, not the official one\n");
    fs.mkdirSync(path.join(mirror, "example.invalid", "data", "v1"), { recursive: true });
    fs.writeFileSync(path.join(mirror, "example.invalid", "data", "v1", "file.bin"), standIn);
    process.env.TL_DOWNLOAD_MIRROR = mirror;
    const cache = tmpDir("tl-mirror-cache-");
    // Without the manifest the registered size refuses it.
    await expect(ensureDownloaded(OFFICIAL, path.join(cache, "a.bin"))).rejects.toThrow(/size mismatch/);

    const manifest = path.join(mirror, "manifest.json");
    const sha256 = crypto.createHash("sha256").update(standIn).digest("hex");
    fs.writeFileSync(manifest, JSON.stringify({ downloads: { [OFFICIAL]: { size: standIn.length, sha256 } }, torchvisionWeights: { resnet50: "resnet50-abcdef12.pth" } }));
    process.env.TL_DOWNLOAD_MANIFEST = manifest;
    expect(downloadManifest()!.torchvisionWeights.resnet50).toBe("resnet50-abcdef12.pth");
    const got = await ensureDownloaded(OFFICIAL, path.join(cache, "b.bin"));
    expect(fs.readFileSync(got).equals(standIn)).toBe(true);

    // The manifest's own checksum is enforced.
    fs.writeFileSync(manifest, JSON.stringify({ downloads: { [OFFICIAL]: { sha256: "0".repeat(64) } } }));
    await expect(ensureDownloaded(OFFICIAL, path.join(cache, "c.bin"))).rejects.toThrow(/SHA-256 mismatch/);
    fs.writeFileSync(manifest, JSON.stringify({ downloads: { [OFFICIAL]: { sha256: "xyz" } } }));
    expect(() => downloadManifest()).toThrow(/bad sha256 for https:\/\/example\.invalid/);
  });
});
