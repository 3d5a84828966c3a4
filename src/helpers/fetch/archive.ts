/**
 * Safe extraction of zip (yauzl), tar and tar.gz (node-tar) archives.
 *
 * Every entry is checked before anything is written: an entry that could land outside the target
 * folder (absolute path, `..`, a path below a symlink, a symlink or hardlink pointing outside) or
 * a device/FIFO node makes us refuse the WHOLE archive with an error naming the entry. Extraction goes
 * into a temporary sibling folder that is renamed into place only when everything succeeded, so a
 * crash never leaves a half-extracted dataset that later looks complete.
 *
 * Symlink policy: a link target must be relative and must not contain `..`. Such "downward-only"
 * links can never resolve outside the tree, whatever other links exist, which a purely lexical check
 * of `a/../b` targets cannot guarantee (a link to "." followed by ".." escapes).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import * as yauzl from "yauzl";
import { ENV } from "../config";
import { diskProblem, removeStaleTemps, removeTemp } from "./staleTemp";
import { beginWork, InterruptedError, type Work } from "../display/interrupt";

export class ArchiveError extends Error {
  readonly archive: string;
  readonly entry?: string;
  constructor(archive: string, message: string, entry?: string) {
    super(message);
    this.name = "ArchiveError";
    this.archive = archive;
    this.entry = entry;
  }
}

export type ArchiveFormat = "zip" | "tar" | "tar.gz";

export interface ExtractOptions {
  /** Format; default: from the file name (.zip, .tar, .tar.gz/.tgz). */
  format?: ArchiveFormat;
  /**
   * Move only this folder of the archive to `dest` (e.g. "hymenoptera_data" for a zip whose entries all
   * start with "hymenoptera_data/"); default: the whole archive becomes `dest`.
   */
  subdir?: string;
  /** Refuse archives whose entries declare more than this many bytes in all (default 32 GiB). */
  maxBytes?: number;
  /**
   * Refuse archives that would grow more than this many times their own size (default 100; photos and
   * binary datasets compress far less). Checked only above 64 MiB of content, so small text archives pass.
   */
  maxRatio?: number;
}

const DEFAULT_MAX_BYTES = 32 * 1024 ** 3;
const DEFAULT_MAX_RATIO = 100;
const RATIO_FLOOR = 64 * 1024 ** 2;

/** Decompression limits, the same for every format (declared sizes; yauzl and node-tar hold entries to them). */
function checkTotal(file: string, total: number, opts: ExtractOptions): void {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxRatio = opts.maxRatio ?? DEFAULT_MAX_RATIO;
  const size = Math.max(1, fs.statSync(file).size);
  if (total > maxBytes) {
    throw new ArchiveError(file, `Refusing to extract ${file}: its entries hold ${total} bytes, over the limit of ${maxBytes} bytes. ` +
      `Nothing was extracted. If you trust this archive, pass a larger { maxBytes }.`);
  }
  if (total > RATIO_FLOOR && total / size > maxRatio) {
    throw new ArchiveError(file, `Refusing to extract ${file}: its ${size} bytes would expand to ${total} bytes (${Math.round(total / size)}x, limit ${maxRatio}x), ` +
      `the shape of a decompression bomb. Nothing was extracted; delete it and download it again from its official source, or pass a larger { maxRatio } if you trust it.`);
  }
}

type EntryKind = "file" | "directory" | "symlink" | "hardlink" | "device" | "other";

/** Why an entry is unsafe, or undefined. `links` holds the symlinks seen so far (archive-relative, normalised). */
function unsafeReason(name: string, kind: EntryKind, linkpath: string | undefined, links: Set<string>, detail = ""): string | undefined {
  if (name.includes("\0")) return "its name contains a NUL byte";
  if (/^[\\/]/.test(name) || /^[a-zA-Z]:/.test(name)) return "it has an absolute path";
  const segs = name.split(/[\\/]+/).filter((s) => s !== "" && s !== ".");
  if (segs.includes("..")) return "its path contains '..' and would be written outside the target directory";
  if (segs.length === 0) return undefined; // ".." itself
  for (let i = 1; i < segs.length; i++) {
    if (links.has(segs.slice(0, i).join("/"))) return `it would be written through the symlink '${segs.slice(0, i).join("/")}'`;
  }
  if (kind === "device") return `it is a device or FIFO node${detail}`;
  if (kind === "other") return `it has an unsupported entry type${detail}`;
  if (kind === "symlink") {
    const t = linkpath ?? "";
    if (t === "" || /^[\\/]/.test(t) || /^[a-zA-Z]:/.test(t)) return `it is a symlink to the absolute path '${t}', outside the target directory`;
    if (t.split(/[\\/]+/).includes("..")) return `it is a symlink to '${t}', which may point outside the target directory ('..' in link targets is refused)`;
    links.add(segs.join("/"));
  }
  if (kind === "hardlink") {
    const t = linkpath ?? "";
    const tsegs = t.split(/[\\/]+/).filter((s) => s !== "" && s !== ".");
    if (t === "" || /^[\\/]/.test(t) || /^[a-zA-Z]:/.test(t) || tsegs.includes("..")) {
      return `it is a hardlink to '${t}', outside the target directory`;
    }
    for (let i = 1; i <= tsegs.length; i++) {
      if (links.has(tsegs.slice(0, i).join("/"))) return `it is a hardlink through the symlink '${tsegs.slice(0, i).join("/")}'`;
    }
  }
  return undefined;
}

function refuse(archive: string, entry: string, reason: string): ArchiveError {
  return new ArchiveError(
    archive,
    `Refusing to extract ${archive}: entry '${entry}' is unsafe (${reason}). Nothing was extracted; ` +
      `the archive is corrupt or malicious, so delete it and download it again from its official source.`,
    entry,
  );
}

function detectFormat(file: string): ArchiveFormat {
  const f = file.toLowerCase();
  if (f.endsWith(".zip")) return "zip";
  if (f.endsWith(".tar.gz") || f.endsWith(".tgz")) return "tar.gz";
  if (f.endsWith(".tar")) return "tar";
  throw new ArchiveError(file, `Cannot tell the archive format of ${file} from its name; pass { format: "zip" | "tar" | "tar.gz" }.`);
}

function tarKind(type: string): EntryKind {
  switch (type) {
    case "File":
    case "OldFile":
    case "ContiguousFile":
      return "file";
    case "Directory":
      return "directory";
    case "SymbolicLink":
      return "symlink";
    case "Link":
      return "hardlink";
    case "CharacterDevice":
    case "BlockDevice":
    case "FIFO":
      return "device";
    default:
      return "other";
  }
}

/** Check every tar entry; throws on the first unsafe one. */
async function checkTar(file: string, opts: ExtractOptions = {}): Promise<void> {
  const links = new Set<string>();
  let bad: ArchiveError | undefined;
  let total = 0;
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: (entry) => {
        if (bad) return;
        total += entry.size ?? 0;
        const reason = unsafeReason(entry.path, tarKind(entry.type), entry.linkpath, links, ` (${entry.type})`);
        if (reason) bad = refuse(file, entry.path, reason);
      },
    });
  } catch (e) {
    if (bad) throw bad;
    if (/decompression ratio/.test((e as Error).message)) {
      // node-tar's own guard (gzip over 1000x) stops the listing first; say it the way checkTotal does.
      throw new ArchiveError(file, `Refusing to extract ${file}: it expands over 1000x its own size (${(e as Error).message}), ` +
        `the shape of a decompression bomb. Nothing was extracted; delete it and download it again from its official source.`);
    }
    throw new ArchiveError(file, `Cannot read ${file} as a tar archive: ${(e as Error).message}. Delete it and download it again.`);
  }
  if (bad) throw bad;
  checkTotal(file, total, opts);
}

async function extractTar(file: string, into: string, opts: ExtractOptions = {}, work?: Work): Promise<void> {
  await checkTar(file, opts);
  const links = new Set<string>();
  let bad: ArchiveError | InterruptedError | undefined;
  await tar.x({
    file,
    cwd: into,
    strict: true, // any warning (e.g. a stripped absolute path) is an error
    preservePaths: false,
    preserveOwner: false, // as root, node-tar would otherwise chown to the archive's uid/gid
    // Defence in depth: re-check while extracting, in case the file changed since the listing.
    filter: (p, entry) => {
      const e = entry as tar.ReadEntry;
      const reason = unsafeReason(p, tarKind(e.type), e.linkpath, links);
      // Throwing inside node-tar's filter would escape its promise; skip the entry and fail afterwards
      // (the temporary folder is then deleted).
      if (reason && !bad) bad = refuse(file, p, reason);
      // Plain permissions: no setuid/setgid/sticky bits from the archive, even when extracting as root.
      if (typeof e.mode === "number") e.mode &= 0o777;
      // Kernel > Interrupt: skip the remaining entries (the temporary folder is deleted).
      if (work?.interrupted && !bad) bad = new InterruptedError(`extraction of ${path.basename(file)} stopped; nothing was kept, re-running the cell extracts again.`);
      return !reason && !bad;
    },
  });
  if (bad) throw bad;
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, decodeStrings: true, validateEntrySizes: true, autoClose: true }, (err, zip) => {
      if (err || !zip) reject(err ?? new Error("no zip"));
      else resolve(zip);
    });
  });
}

function zipKind(entry: yauzl.Entry): EntryKind {
  const madeByUnix = entry.versionMadeBy >> 8 === 3;
  const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
  if (madeByUnix && mode !== 0) {
    const t = mode & 0o170000;
    if (t === 0o120000) return "symlink";
    if (t === 0o020000 || t === 0o060000 || t === 0o010000 || t === 0o140000) return "device";
    if (t === 0o040000) return "directory";
  }
  return entry.fileName.endsWith("/") ? "directory" : "file";
}

async function readZipEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, limit: number): Promise<Buffer> {
  const stream = await new Promise<NodeJS.ReadableStream>((res, rej) => zip.openReadStream(entry, (e, s) => (e || !s ? rej(e) : res(s))));
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new Error("symlink target too long");
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

async function extractZip(file: string, into: string, opts: ExtractOptions = {}, work?: Work): Promise<void> {
  // Pass 1: check every entry's name and type (symlink targets need the entry body, read in pass 2
  // before anything dangerous is created; we still refuse before writing any further file).
  const links = new Set<string>();
  const wrap = (e: unknown): ArchiveError => {
    if (e instanceof ArchiveError) return e;
    if (diskProblem(e)) return e as ArchiveError; // passed on to extractArchive, which names the real cause
    const msg = (e as Error).message ?? String(e);
    // yauzl validates names itself ("absolute path: /x", "invalid relative path: ../x").
    const m = /^(absolute path|invalid relative path|invalid characters in fileName): (.*)$/.exec(msg);
    if (m) return refuse(file, m[2]!, m[1] === "absolute path" ? "it has an absolute path" : m[1] === "invalid relative path" ? "its path contains '..' and would be written outside the target directory" : "its name contains a backslash");
    return new ArchiveError(file, `Cannot read ${file} as a zip archive: ${msg}. Delete it and download it again.`);
  };

  const entries: yauzl.Entry[] = [];
  let total = 0;
  {
    const zip = await openZip(file).catch((e) => { throw wrap(e); });
    await new Promise<void>((resolve, reject) => {
      zip.on("error", (e) => reject(wrap(e)));
      zip.on("end", () => resolve());
      zip.on("entry", (entry: yauzl.Entry) => {
        const kind = zipKind(entry);
        // Symlink targets are checked in pass 2 (they live in the entry body); names and types now.
        const reason = unsafeReason(entry.fileName, kind === "symlink" ? "file" : kind, undefined, links, " (unix mode " + ((entry.externalFileAttributes >>> 16) & 0o170000).toString(8) + ")");
        if (reason) {
          zip.close();
          reject(refuse(file, entry.fileName, reason));
          return;
        }
        entries.push(entry);
        total += entry.uncompressedSize;
        zip.readEntry();
      });
      zip.readEntry();
    });
  }

  checkTotal(file, total, opts);

  // Pass 2: symlink targets, then extraction in archive order.
  const zip = await openZip(file).catch((e) => { throw wrap(e); });
  try {
    const targets = new Map<string, string>();
    const linkSet = new Set<string>();
    for (const entry of entries) {
      if (zipKind(entry) !== "symlink") continue;
      const target = (await readZipEntry(zip, entry, 4096)).toString("utf8");
      const reason = unsafeReason(entry.fileName, "symlink", target, linkSet);
      if (reason) throw refuse(file, entry.fileName, reason);
      targets.set(entry.fileName, target);
    }
    // Now that all symlinks are known, refuse any entry below one (it would be written through it).
    for (const entry of entries) {
      const segs = entry.fileName.split("/").filter((s) => s !== "" && s !== ".");
      for (let i = 1; i < segs.length; i++) {
        if (linkSet.has(segs.slice(0, i).join("/"))) throw refuse(file, entry.fileName, `it would be written through the symlink '${segs.slice(0, i).join("/")}'`);
      }
    }
    for (const entry of entries) {
      await work?.checkpoint(() => `extracting ${path.basename(file)} (nothing was kept; re-running the cell extracts again)`);
      const out = path.join(into, entry.fileName);
      const kind = zipKind(entry);
      if (kind === "directory") {
        await fs.promises.mkdir(out, { recursive: true });
        continue;
      }
      await fs.promises.mkdir(path.dirname(out), { recursive: true });
      if (kind === "symlink") {
        await fs.promises.rm(out, { force: true });
        await fs.promises.symlink(targets.get(entry.fileName)!, out);
        continue;
      }
      const stream = await new Promise<NodeJS.ReadableStream>((res, rej) => zip.openReadStream(entry, (e, s) => (e || !s ? rej(e) : res(s))));
      // 'w' on a path that is a symlink would follow it; remove first so we always write a new regular file.
      await fs.promises.rm(out, { force: true });
      await pipeline(stream, fs.createWriteStream(out, { flags: "wx" }));
    }
  } catch (e) {
    throw wrap(e);
  } finally {
    zip.close();
  }
}

/** List the entry names of an archive (for messages and tests), without extracting. */
export async function listArchive(file: string, format: ArchiveFormat = detectFormat(file)): Promise<string[]> {
  const names: string[] = [];
  if (format === "zip") {
    const zip = await openZip(file);
    await new Promise<void>((resolve, reject) => {
      zip.on("error", reject);
      zip.on("end", () => resolve());
      zip.on("entry", (e: yauzl.Entry) => { names.push(e.fileName); zip.readEntry(); });
      zip.readEntry();
    });
  } else {
    await tar.t({ file, onReadEntry: (e) => { names.push(e.path); } });
  }
  return names;
}

/**
 * Extract `archive` so that its contents (or its folder `opts.subdir`) become the folder `dest`.
 * `dest` must not exist yet. Extraction happens in a temporary sibling folder and is renamed into
 * place at the end; on any error the temporary folder is removed and `dest` is untouched.
 */
export async function extractArchive(archive: string, dest: string, opts: ExtractOptions = {}): Promise<string> {
  archive = path.resolve(archive);
  dest = path.resolve(dest);
  const format = opts.format ?? detectFormat(archive);
  if (fs.existsSync(dest)) {
    throw new ArchiveError(archive, `Cannot extract ${archive} to ${dest}: that folder already exists. Delete it first to extract again.`);
  }
  await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  // Temps of killed runs (their pid is in the name) would otherwise pile up next to the dataset.
  const prefix = `.${path.basename(dest)}.extract-`;
  removeStaleTemps(path.dirname(dest), prefix);
  const tmp = await fs.promises.mkdtemp(path.join(path.dirname(dest), `${prefix}${process.pid}-`));
  const work = beginWork("extraction");
  try {
    try {
      if (format === "zip") await extractZip(archive, tmp, opts, work);
      else await extractTar(archive, tmp, opts, work);
    } catch (e) {
      const disk = diskProblem(e);
      if (!disk) throw e;
      throw new ArchiveError(archive, `Cannot extract ${archive} into ${path.dirname(dest)}: ${disk}. The partial extraction was removed and the archive is kept; ` +
        `free space there (or make it writable), or set ${ENV.cacheDir} to a folder on a disk with room, and run again.`);
    }
    let source = tmp;
    if (opts.subdir) {
      const segs = opts.subdir.split("/").filter(Boolean);
      if (segs.includes("..")) throw new ArchiveError(archive, `subdir '${opts.subdir}' must stay inside the archive.`);
      source = path.join(tmp, ...segs);
      const st = await fs.promises.lstat(source).catch(() => undefined);
      if (!st || !st.isDirectory()) {
        const top = (await fs.promises.readdir(tmp)).join(", ") || "(nothing)";
        throw new ArchiveError(archive, `${archive} has no folder '${opts.subdir}' (its top level holds: ${top}); the download is not the expected file.`);
      }
    }
    await fs.promises.rename(source, dest);
    return dest;
  } finally {
    work.end();
    await removeTemp(tmp);
  }
}
