/**
 * Fixture builders shared by the data tests: images (sharp), raw tar and zip writers that can produce
 * malicious entries (the real libraries refuse to), and a MAT v5 writer for Stanford Dogs lists.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { spawnSync } from "node:child_process";
import sharp from "sharp";

export function tmpDir(prefix = "tl-data-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function writeJpeg(file: string, w = 16, h = 12, rgb: [number, number, number] = [200, 30, 30]): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).jpeg({ quality: 95 }).toFile(file);
}

export async function writePng(file: string, w = 16, h = 12, rgb: [number, number, number] = [30, 200, 30]): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toFile(file);
}

/** A JPEG cut to `keep` of its length: the classic truncated download. */
export async function writeTruncatedJpeg(file: string, keep = 0.5): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Noise so the entropy-coded data is large and the cut lands in the middle of it.
  const w = 64, h = 64;
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
  const buf = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  fs.writeFileSync(file, buf.subarray(0, Math.floor(buf.length * keep)));
}

// ---------------------------------------------------------------- tar

export interface TarEntrySpec {
  name: string;
  /** '0' file, '1' hardlink, '2' symlink, '3' char device, '4' block device, '5' directory, '6' FIFO */
  type?: string;
  body?: string | Buffer;
  linkname?: string;
  mode?: number;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

/** A ustar archive written byte by byte, so it can hold entries tar libraries would never create. */
export function makeTar(entries: TarEntrySpec[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.body) ? e.body : Buffer.from(e.body);
    const type = e.type ?? "0";
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, "utf8");
    h.write(octal(e.mode ?? (type === "5" ? 0o755 : 0o644), 8), 100, "ascii");
    h.write(octal(0, 8), 108, "ascii");
    h.write(octal(0, 8), 116, "ascii");
    h.write(octal(type === "0" ? body.length : 0, 12), 124, "ascii");
    h.write(octal(1_700_000_000, 12), 136, "ascii");
    h.write("        ", 148, "ascii");
    h.write(type, 156, "ascii");
    if (e.linkname) h.write(e.linkname, 157, 100, "utf8");
    h.write("ustar\0", 257, "ascii");
    h.write("00", 263, "ascii");
    let sum = 0;
    for (const byte of h) sum += byte;
    h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
    blocks.push(h);
    if (type === "0" && body.length) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

// ---------------------------------------------------------------- zip

export interface ZipEntrySpec {
  name: string;
  body?: string | Buffer;
  /** Unix mode including the type bits (e.g. 0o120777 symlink, 0o020644 char device). */
  unixMode?: number;
}

/** A stored (uncompressed) zip, with Unix modes in the external attributes. */
export function makeZip(entries: ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.body) ? e.body : Buffer.from(e.body);
    const crc = zlib.crc32(body);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(0x0800, 6); // UTF-8 names
    lh.writeUInt16LE(0, 8); // stored
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(body.length, 22);
    lh.writeUInt16LE(name.length, 26);
    locals.push(lh, name, body);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(0x0800, 8);
    ch.writeUInt16LE(0, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(body.length, 24);
    ch.writeUInt16LE(name.length, 28);
    const mode = e.unixMode ?? (e.name.endsWith("/") ? 0o040755 : 0o100644);
    ch.writeUInt32LE(((mode & 0xffff) << 16) >>> 0, 38);
    ch.writeUInt32LE(offset, 42);
    centrals.push(ch, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

// ---------------------------------------------------------------- MAT v5

const pad8 = (b: Buffer) => Buffer.concat([b, Buffer.alloc((8 - (b.length % 8)) % 8)]);

function element(type: number, data: Buffer): Buffer {
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(type, 0);
  tag.writeUInt32LE(data.length, 4);
  return Buffer.concat([tag, pad8(data)]);
}

function matrix(name: string, cls: number, dims: number[], body: Buffer[]): Buffer {
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(cls, 0);
  const d = Buffer.alloc(4 * dims.length);
  dims.forEach((x, i) => d.writeInt32LE(x, 4 * i));
  let nameEl: Buffer;
  const nb = Buffer.from(name, "latin1");
  if (nb.length > 0 && nb.length <= 4) {
    // Small data element format: size in the upper 16 bits of the tag, data in the next 4 bytes.
    nameEl = Buffer.alloc(8);
    nameEl.writeUInt32LE((nb.length << 16) | 1, 0);
    nb.copy(nameEl, 4);
  } else nameEl = element(1, nb);
  return element(14, Buffer.concat([element(6, flags), element(5, d), nameEl, ...body]));
}

function charMatrix(name: string, s: string): Buffer {
  const codes = Buffer.alloc(2 * s.length);
  for (let i = 0; i < s.length; i++) codes.writeUInt16LE(s.charCodeAt(i), 2 * i);
  return matrix(name, 4, [1, s.length], [element(4, codes)]);
}

/** A MAT v5 file with `file_list` (N x 1 cell of strings) and `labels` (N x 1 double stored as uint8, as MATLAB does). */
export function makeStanfordListMat(files: string[], labels1: number[], compressed: boolean): Buffer {
  const header = Buffer.alloc(128, 0x20);
  header.write("MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Sun Nov 22 2026", 0, "latin1");
  header.fill(0, 116, 124);
  header.writeUInt16LE(0x0100, 124);
  header.write("IM", 126, "latin1");
  const fileList = matrix("file_list", 1, [files.length, 1], files.map((f) => charMatrix("", f)));
  const labels = matrix("labels", 6, [labels1.length, 1], [element(2, Buffer.from(labels1))]);
  const vars = [fileList, labels].map((v) => (compressed ? (() => {
    const z = zlib.deflateSync(v);
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(z.length, 4);
    return Buffer.concat([tag, z]);
  })() : v));
  return Buffer.concat([header, ...vars]);
}

/** Whether this process may mount a small tmpfs (root, and a container that allows it): the disk-full tests need one. */
export function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = fs.mkdtempSync(path.join(process.env.TMPDIR ?? os.tmpdir(), "tl-mnt-"));
  const ok = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]).status === 0;
  if (ok) spawnSync("umount", [probe]);
  fs.rmdirSync(probe);
  return ok;
}

/**
 * Fresh work folders for archive tests under one temp root (removed after the file's tests):
 * `<case>/{archive, out/dest}`, the archive next to, not inside, out/.
 */
export function archiveWorkspace(prefix: string, hooks: { beforeAll(fn: () => void): void; afterAll(fn: () => void): void }) {
  let dir = "";
  let n = 0;
  hooks.beforeAll(() => { dir = tmpDir(prefix); });
  hooks.afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return (): { base: string; out: string; dest: string } => {
    const base = path.join(dir, `case${n++}`);
    const out = path.join(base, "out");
    fs.mkdirSync(out, { recursive: true });
    return { base, out, dest: path.join(out, "dataset") };
  };
}
