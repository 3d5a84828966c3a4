/**
 * Odd images and odd folders: every kind of input a real dataset throws at the loader.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { checkSameClasses, imageFolder } from "../../src/helpers/sets";
import { decodeImage, validateImages, ImageDecodeError } from "../../src/helpers/pipeline";
import { tmpDir, writeJpeg, writePng, writeTruncatedJpeg } from "../helpers/fixtures";

let dir: string;
beforeAll(() => {
  dir = tmpDir("tl-odd-");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const px = (img: { data: Uint8Array; width: number }, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
/** A w x h 16-bit RGB PNG filled with one colour. */
function png16(w: number, h: number, rgb: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 16; // bit depth
  ihdr[9] = 2; // truecolour
  const row = Buffer.alloc(1 + w * 6);
  for (let x = 0; x < w; x++) rgb.forEach((v, c) => row.writeUInt16BE(v, 1 + x * 6 + c * 2));
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}
const near = (a: number[], b: number[], tol = 12) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

describe("decodeImage normalises everything to 8-bit RGB HWC", () => {
  it("plain JPEG, with resize to [h, w] and to a square", async () => {
    const f = path.join(dir, "plain.jpg");
    await writeJpeg(f, 40, 30, [200, 30, 30]);
    const full = await decodeImage(f);
    expect([full.height, full.width, full.channels, full.data.length]).toEqual([30, 40, 3, 30 * 40 * 3]);
    expect(near(px(full, 5, 5), [200, 30, 30])).toBe(true);
    const r = await decodeImage(f, { size: [10, 20] });
    expect([r.height, r.width, r.data.length]).toEqual([10, 20, 600]);
    const sq = await decodeImage(f, { size: 8 });
    expect([sq.height, sq.width]).toEqual([8, 8]);
  });

  it("grayscale PNG becomes 3 equal channels", async () => {
    const f = path.join(dir, "gray.png");
    const raw = Buffer.alloc(8 * 6, 0);
    raw.fill(77);
    await sharp(raw, { raw: { width: 8, height: 6, channels: 1 } }).toColourspace("b-w").png().toFile(f);
    expect((await sharp(f).metadata()).channels).toBe(1);
    const img = await decodeImage(f);
    expect(img.channels).toBe(3);
    expect(img.data.length).toBe(8 * 6 * 3);
    expect(px(img, 3, 3)).toEqual([77, 77, 77]);
  });

  it("CMYK JPEG is converted to sRGB", async () => {
    const f = path.join(dir, "cmyk.jpg");
    await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 20, g: 40, b: 220 } } }).toColourspace("cmyk").jpeg({ quality: 95 }).toFile(f);
    expect((await sharp(f).metadata()).space).toBe("cmyk");
    const img = await decodeImage(f);
    expect(img.channels).toBe(3);
    // Blue stays clearly blue. The exact values depend on the CMYK profile used for the round trip
    // (sharp writes no ICC profile, so decoding uses a default one), hence margins rather than equality.
    const [r, g, b] = px(img, 8, 8);
    expect(b! - r!).toBeGreaterThan(60);
    expect(b! - g!).toBeGreaterThan(40);
  });

  it("16-bit PNG is scaled to 8 bits (not truncated to the low byte)", async () => {
    // Written by hand (bit depth 16, colour type 2) so the fixture does not depend on the decoder under test.
    const f = path.join(dir, "deep.png");
    fs.writeFileSync(f, png16(4, 4, [65535, 32768, 2570]));
    expect((await sharp(f).metadata()).depth).toBe("ushort");
    const img = await decodeImage(f);
    expect(near(px(img, 1, 1), [255, 128, 10], 2)).toBe(true);
  });

  it("alpha: flattened on white by default, dropped on request", async () => {
    const f = path.join(dir, "alpha.png");
    // Fully transparent black.
    await sharp({ create: { width: 6, height: 6, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toFile(f);
    const flat = await decodeImage(f);
    expect(flat.channels).toBe(3);
    expect(px(flat, 2, 2)).toEqual([255, 255, 255]);
    const dropped = await decodeImage(f, { alpha: "drop" });
    expect(dropped.data.length).toBe(6 * 6 * 3);
    expect(px(dropped, 2, 2)).toEqual([0, 0, 0]);
  });

  it("EXIF orientation is applied: pixels are rotated, not just the shape", async () => {
    // Stored 40 wide x 20 high: left half red, right half blue. Orientation 6 = display rotated 90° clockwise,
    // so the displayed image is 20 wide x 40 high with red on TOP and blue at the bottom.
    const f = path.join(dir, "exif6.jpg");
    const w = 40, h = 20;
    const raw = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      if (x < w / 2) raw[o] = 255; else raw[o + 2] = 255;
    }
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(f);
    expect((await sharp(f).metadata()).orientation).toBe(6);
    const img = await decodeImage(f);
    expect([img.width, img.height]).toEqual([20, 40]);
    expect(near(px(img, 10, 5), [255, 0, 0], 40)).toBe(true);
    expect(near(px(img, 10, 34), [0, 0, 255], 40)).toBe(true);
  });

  it("huge image: shrunk while decoding to the requested size, capped at maxSide without one", async () => {
    const f = path.join(dir, "huge.jpg");
    await writeJpeg(f, 6000, 4000, [10, 120, 240]);
    const t0 = Date.now();
    const small = await decodeImage(f, { size: 224 });
    const ms = Date.now() - t0;
    expect([small.height, small.width]).toEqual([224, 224]);
    expect(near(px(small, 100, 100), [10, 120, 240])).toBe(true);
    expect(ms).toBeLessThan(5000);
    const capped = await decodeImage(f, { maxSide: 1000 });
    expect([capped.width, capped.height]).toEqual([1000, 667]);
  });

  it("a decompression bomb header (pixel count over the limit) is refused before decoding", async () => {
    // A valid 1x1 PNG whose IHDR then claims 30000 x 30000 (CRC fixed up so only the size is "wrong").
    const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: "red" } }).png().toBuffer();
    png.writeUInt32BE(30000, 16);
    png.writeUInt32BE(30000, 20);
    png.writeUInt32BE(zlib.crc32(png.subarray(12, 29)), 29);
    const f = path.join(dir, "bomb.png");
    fs.writeFileSync(f, png);
    await expect(decodeImage(f, { size: 32 })).rejects.toThrow(/pixel limit/i);
  });

  it("truncated JPEG and zero-byte file fail with ImageDecodeError naming the file", async () => {
    const t = path.join(dir, "trunc.jpg");
    await writeTruncatedJpeg(t);
    const z = path.join(dir, "zero.jpg");
    fs.writeFileSync(z, "");
    await expect(decodeImage(t)).rejects.toBeInstanceOf(ImageDecodeError);
    await expect(decodeImage(t)).rejects.toThrow(/trunc\.jpg/);
    await expect(decodeImage(z, { size: 8 })).rejects.toThrow(/zero\.jpg/);
  });

  it("validateImages returns exactly the undecodable files", async () => {
    const good = path.join(dir, "v-good.jpg");
    await writeJpeg(good);
    const trunc = path.join(dir, "v-trunc.jpg");
    await writeTruncatedJpeg(trunc);
    const zero = path.join(dir, "v-zero.png");
    fs.writeFileSync(zero, "");
    const text = path.join(dir, "v-text.jpg");
    fs.writeFileSync(text, "<html>404 not found</html>");
    const bad = await validateImages([{ path: good }, { path: trunc }, zero, text]);
    expect(bad.map((b) => path.basename(b.path)).sort()).toEqual(["v-text.jpg", "v-trunc.jpg", "v-zero.png"]);
    for (const b of bad) expect(b.reason.length).toBeGreaterThan(0);
  });
});

describe("imageFolder: torchvision semantics on odd folders", () => {
  let root: string;
  beforeAll(async () => {
    root = path.join(dir, "train");
    // Class names chosen so JS's UTF-16 sort and Python's code-point sort disagree: U+FF46 (fullwidth f)
    // comes before U+1F600 (emoji) by code point, after it by UTF-16 unit (0xFF46 > 0xD83D).
    await writeJpeg(path.join(root, "cat", "a.jpg"));
    await writeJpeg(path.join(root, "cat", "B.JPG")); // upper-case extension counts
    await writePng(path.join(root, "cat", "sub", "c.png")); // nested folder counts
    await writeTruncatedJpeg(path.join(root, "cat", "broken.jpg"));
    fs.writeFileSync(path.join(root, "cat", "zero.jpeg"), "");
    fs.writeFileSync(path.join(root, "cat", "notes.txt"), "not an image");
    await writeJpeg(path.join(root, "cat", ".hidden.jpg"));
    fs.writeFileSync(path.join(root, "cat", ".DS_Store"), "junk");
    await writeJpeg(path.join(root, "dog", "x.jpeg"));
    await sharp({ create: { width: 8, height: 8, channels: 3, background: "blue" } }).webp().toFile(path.join(root, "dog", "y.webp"));
    await sharp({ create: { width: 8, height: 8, channels: 3, background: "blue" } }).gif().toFile(path.join(root, "dog", "z.gif")); // not in IMG_EXTENSIONS
    fs.mkdirSync(path.join(root, "empty class"), { recursive: true });
    await writeJpeg(path.join(root, "ｆｕｌｌ", "1.jpg"));
    await writeJpeg(path.join(root, "😀 happy", "1.jpg"));
    await writeJpeg(path.join(root, "Zebra", "1.jpg"));
    await writeJpeg(path.join(root, "ünï çødé", "1.jpg"));
    await writeJpeg(path.join(root, ".ipynb_checkpoints", "1.jpg")); // hidden folder: not a class
    fs.writeFileSync(path.join(root, "README.txt"), "loose file");
  });

  it("classes sorted by code point, hidden folders ignored, empty class kept", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const ds = await imageFolder(root);
      expect(ds.classes).toEqual(["Zebra", "cat", "dog", "empty class", "ünï çødé", "ｆｕｌｌ", "😀 happy"]);
      const rel = ds.samples.map((s) => [path.relative(root, s.path), s.label]);
      expect(rel).toEqual([
        ["Zebra/1.jpg", 0],
        ["cat/B.JPG", 1],
        ["cat/a.jpg", 1],
        ["cat/sub/c.png", 1],
        ["dog/x.jpeg", 2],
        ["dog/y.webp", 2],
        ["ünï çødé/1.jpg", 4],
        ["ｆｕｌｌ/1.jpg", 5],
        ["😀 happy/1.jpg", 6],
      ]);
      expect(ds.skipped.nonImage).toBe(2);
      expect(ds.skipped.nonImageFiles.sort()).toEqual(["cat/notes.txt", "dog/z.gif"]);
      expect(ds.skipped.undecodable.map((u) => path.basename(u.path)).sort()).toEqual(["broken.jpg", "zero.jpeg"]);
      expect(ds.skipped.emptyClasses).toEqual(["empty class"]);
      expect(ds.skipped.hidden).toBe(3); // .hidden.jpg, .DS_Store, .ipynb_checkpoints
      expect(ds.skipped.looseFiles).toBe(1);
      // One summary warning, naming the undecodable files.
      expect(warn).toHaveBeenCalledTimes(1);
      const msg = String(warn.mock.calls[0]![0]);
      expect(msg).toMatch(/2 non-image/);
      expect(msg).toMatch(/broken\.jpg/);
      expect(msg).toMatch(/zero\.jpeg/);
      expect(msg).toMatch(/empty class/);
    } finally {
      warn.mockRestore();
    }
  });

  it("validate: false keeps undecodable files (lazy mode) and still skips non-images", async () => {
    const ds = await imageFolder(root, { validate: false, warn: false });
    expect(ds.samples.some((s) => s.path.endsWith("broken.jpg"))).toBe(true);
    expect(ds.skipped.undecodable).toEqual([]);
    expect(ds.skipped.nonImage).toBe(2);
  });

  it("single class folder works; a folder with no images is a clear error", async () => {
    const one = path.join(dir, "one");
    await writeJpeg(path.join(one, "only", "a.jpg"));
    const ds = await imageFolder(one, { warn: false });
    expect(ds.classes).toEqual(["only"]);
    expect(ds.samples).toHaveLength(1);
    const none = path.join(dir, "none");
    fs.mkdirSync(path.join(none, "a"), { recursive: true });
    fs.writeFileSync(path.join(none, "a", "x.txt"), "");
    await expect(imageFolder(none, { warn: false })).rejects.toThrow(/no usable images/);
    const flat = path.join(dir, "flat");
    await writeJpeg(path.join(flat, "a.jpg"));
    await expect(imageFolder(flat, { warn: false })).rejects.toThrow(/no class sub-folders/);
    await expect(imageFolder(path.join(dir, "missing"))).rejects.toThrow(/Cannot read image folder/);
  });

  it("checkSameClasses names what differs between train and val", async () => {
    const val = path.join(dir, "val");
    await writeJpeg(path.join(val, "cat", "a.jpg"));
    await writeJpeg(path.join(val, "horse", "a.jpg"));
    const t = await imageFolder(root, { warn: false });
    const v = await imageFolder(val, { warn: false });
    expect(() => checkSameClasses(t, v)).toThrow(/only in .*train: .*"dog".*only in .*val: "horse"/s);
    expect(() => checkSameClasses(t, t)).not.toThrow();
    expect(() => checkSameClasses({ classes: ["a", "b"] }, { classes: ["b", "a"] })).toThrow(/different order/);
  });
});
