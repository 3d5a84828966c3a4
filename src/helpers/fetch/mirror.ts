/**
 * Download mirrors (`TL_DOWNLOAD_MIRROR`) and checksum manifests (`TL_DOWNLOAD_MANIFEST`).
 *
 * Path rule: the official URL `https://<host>/<path>` is fetched from `<mirror>/<host>/<path>`, where the mirror is a
 * base URL (https; plain http only to a loopback address) or a local directory. The registry still decides which
 * official URLs may be fetched, and the sizes and checksums still apply to what the mirror serves.
 *
 * A manifest is a JSON file that replaces the expected size/checksums of some official URLs, for a mirror whose files
 * are deliberately not the official ones (the rehearsal's miniatures): `{ "downloads": { "<official url>":
 * { "size": n, "sha256": "..." } }, "torchvisionWeights": { "<name>": "<arch>-<sha256 prefix>.pth" } }`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, textSetting } from "../config";

export const MIRROR_SETTING = "TL_DOWNLOAD_MIRROR";
export const MANIFEST_SETTING = "TL_DOWNLOAD_MANIFEST";

export type DownloadMirror = { kind: "directory"; dir: string } | { kind: "url"; base: URL };

/** Whether a URL host is a loopback address (plain http to it never leaves the machine). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Parse a mirror value: an http(s) base URL, a `file://` URL or a directory path. Refused with a ConfigError (before
 * any connection): plain http to a host that is not loopback, other schemes, a directory that does not exist.
 */
export function parseMirror(value: string): DownloadMirror {
  const fix = `set ${MIRROR_SETTING} to an https:// base URL, an http://127.0.0.1:<port>/ (loopback) URL or an existing directory, or unset it`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigError(`${MIRROR_SETTING}=${value} is not a valid URL; ${fix}.`);
    }
    if (url.protocol === "file:") return parseMirror(decodeURIComponent(url.pathname));
    if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
      throw new ConfigError(
        `${MIRROR_SETTING}=${value} uses plain http to ${url.hostname}, which is not a loopback address: the files would travel ` +
          `unencrypted and could be replaced on the way. Serve the mirror over https, or ${fix}.`,
      );
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new ConfigError(`${MIRROR_SETTING}=${value}: the scheme ${url.protocol} is not supported; ${fix}.`);
    }
    if (url.search || url.hash) throw new ConfigError(`${MIRROR_SETTING}=${value} has a query or fragment; give a plain base URL (${fix}).`);
    if (!url.pathname.endsWith("/")) url.pathname += "/";
    return { kind: "url", base: url };
  }
  const dir = path.resolve(value);
  let isDir = false;
  try {
    isDir = fs.statSync(dir).isDirectory();
  } catch {
    // missing: reported below
  }
  if (!isDir) throw new ConfigError(`${MIRROR_SETTING}=${value}: ${dir} is not an existing directory; ${fix}.`);
  return { kind: "directory", dir };
}

/** The mirror from `TL_DOWNLOAD_MIRROR`, or undefined when unset. */
export function downloadMirror(env: NodeJS.ProcessEnv = process.env): DownloadMirror | undefined {
  const v = textSetting(MIRROR_SETTING, env);
  return v === undefined ? undefined : parseMirror(v);
}

/** `<host>/<path>` of an official URL: the part the path rule appends to the mirror. */
function mirrorPath(official: string): string[] {
  const u = new URL(official);
  const parts = u.pathname.split("/").filter((p) => p !== "").map((p) => decodeURIComponent(p));
  if (parts.some((p) => p === ".." || p === "." || p.includes("/") || p.includes("\\"))) {
    throw new ConfigError(`Cannot map ${official} onto a mirror: its path has '.', '..' or slashes inside a segment.`);
  }
  return [u.host, ...parts];
}

/** Where the mirror keeps an official URL: a URL (remote mirror) or a file path (directory mirror). */
export function mirroredLocation(official: string, mirror: DownloadMirror): string {
  const parts = mirrorPath(official);
  if (mirror.kind === "directory") return path.join(mirror.dir, ...parts);
  return new URL(parts.map(encodeURIComponent).join("/"), mirror.base).toString();
}

/** One line for the notebook banner, or undefined when no mirror is set. */
export function mirrorBanner(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const m = downloadMirror(env);
  if (!m) return undefined;
  const manifest = textSetting(MANIFEST_SETTING, env);
  const where = m.kind === "directory" ? `directory ${m.dir}` : m.base.toString();
  return `downloads from mirror ${where} (<mirror>/<host>/<path>)` + (manifest ? `, checksums from ${path.resolve(manifest)}` : "");
}

export interface ManifestEntry {
  size?: number;
  sha256?: string;
  md5?: string;
}

interface Manifest {
  downloads: Record<string, ManifestEntry>;
  torchvisionWeights: Record<string, string>;
}

let cached: { file: string; mtimeMs: number; size: number; manifest: Manifest } | undefined;

/** The manifest named by `TL_DOWNLOAD_MANIFEST` (read once per file version), or undefined when unset. */
export function downloadManifest(env: NodeJS.ProcessEnv = process.env): Manifest | undefined {
  const v = textSetting(MANIFEST_SETTING, env);
  if (v === undefined) return undefined;
  const file = path.resolve(v);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new ConfigError(`${MANIFEST_SETTING}=${v}: ${file} does not exist; point it at a JSON checksum manifest, or unset it.`);
  }
  if (cached && cached.file === file && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.manifest;
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError(`${MANIFEST_SETTING}=${v}: ${file} is not valid JSON (${(e as Error).message}).`);
  }
  const manifest = checkManifest(raw, file);
  cached = { file, mtimeMs: st.mtimeMs, size: st.size, manifest };
  return manifest;
}

function checkManifest(raw: unknown, file: string): Manifest {
  const bad = (why: string) => new ConfigError(`${MANIFEST_SETTING}: ${file} ${why} (see fetch/mirror.ts for the format).`);
  if (typeof raw !== "object" || raw === null) throw bad("is not a JSON object");
  const r = raw as { downloads?: unknown; torchvisionWeights?: unknown };
  const downloads = (r.downloads ?? {}) as Record<string, ManifestEntry>;
  const torchvisionWeights = (r.torchvisionWeights ?? {}) as Record<string, string>;
  if (typeof downloads !== "object") throw bad("has a 'downloads' that is not an object");
  for (const [url, e] of Object.entries(downloads)) {
    if (typeof e !== "object" || e === null) throw bad(`has a non-object entry for ${url}`);
    if (e.size !== undefined && !(Number.isInteger(e.size) && e.size >= 0)) throw bad(`has a bad size for ${url}`);
    if (e.sha256 !== undefined && !/^[0-9a-f]{64}$/i.test(e.sha256)) throw bad(`has a bad sha256 for ${url}`);
    if (e.md5 !== undefined && !/^[0-9a-f]{32}$/i.test(e.md5)) throw bad(`has a bad md5 for ${url}`);
    if (e.size === undefined && !e.sha256 && !e.md5) throw bad(`has no size or checksum for ${url}`);
  }
  for (const [name, f] of Object.entries(torchvisionWeights)) {
    if (typeof f !== "string" || !/-[0-9a-f]{6,64}\.pth$/.test(f)) throw bad(`names '${String(f)}' for torchvision weights ${name}; use <arch>-<sha256 prefix>.pth`);
  }
  return { downloads, torchvisionWeights };
}

/** The manifest's expectation for an official URL, if the manifest lists it. */
export function manifestEntry(url: string, env: NodeJS.ProcessEnv = process.env): ManifestEntry | undefined {
  return downloadManifest(env)?.downloads[url];
}
