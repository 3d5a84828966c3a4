/**
 * Crafted archives: every way an entry could escape the target folder must make us refuse the whole
 * archive, write nothing outside, leave no temporary folder and no half-extracted destination.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArchiveError, extractArchive, listArchive } from "../../src/helpers/fetch";
import { makeTar, makeZip, type TarEntrySpec, type ZipEntrySpec, archiveWorkspace } from "../helpers/fixtures";

const work = archiveWorkspace("tl-archive-", { beforeAll, afterAll });

async function expectRefused(archive: string, dest: string, out: string, entry: string, why: RegExp): Promise<void> {
  const err = await extractArchive(archive, dest).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ArchiveError);
  const msg = (err as Error).message;
  expect(msg).toContain(`entry '${entry}'`);
  expect(msg).toMatch(why);
  expect((err as ArchiveError).entry).toBe(entry);
  // Nothing extracted: no destination, no leftover temp folder, nothing written next to it.
  expect(fs.existsSync(dest)).toBe(false);
  expect(fs.readdirSync(out)).toEqual([]);
}

const tarCase = (entries: TarEntrySpec[], gz = false) => {
  const w = work();
  const file = path.join(w.base, gz ? "a.tar.gz" : "a.tar");
  const t = makeTar(entries);
  fs.writeFileSync(file, gz ? zlib.gzipSync(t) : t);
  return { ...w, file };
};
const zipCase = (entries: ZipEntrySpec[]) => {
  const w = work();
  const file = path.join(w.base, "a.zip");
  fs.writeFileSync(file, makeZip(entries));
  return { ...w, file };
};

describe("safe archives extract atomically", () => {
  it("tar.gz with folders, files and an inside symlink; subdir moves one folder into place", async () => {
    const c = tarCase([
      { name: "top/", type: "5" },
      { name: "top/a/", type: "5" },
      { name: "top/a/one.txt", body: "one" },
      { name: "top/b/two.txt", body: "two" },
      { name: "top/link", type: "2", linkname: "a/one.txt" },
    ], true);
    expect(await listArchive(c.file)).toEqual(["top/", "top/a/", "top/a/one.txt", "top/b/two.txt", "top/link"]);
    await extractArchive(c.file, c.dest, { subdir: "top" });
    expect(fs.readFileSync(path.join(c.dest, "a", "one.txt"), "utf8")).toBe("one");
    expect(fs.readFileSync(path.join(c.dest, "b", "two.txt"), "utf8")).toBe("two");
    expect(fs.readFileSync(path.join(c.dest, "link"), "utf8")).toBe("one");
    expect(fs.readdirSync(c.out)).toEqual(["dataset"]); // temp folder gone
    await expect(extractArchive(c.file, c.dest)).rejects.toThrow(/already exists/);
  });

  it("zip (hymenoptera-like layout) with subdir; a missing subdir is a clear error", async () => {
    const c = zipCase([
      { name: "hymenoptera_data/" },
      { name: "hymenoptera_data/train/ants/a.jpg", body: "jpeg?" },
      { name: "hymenoptera_data/val/bees/b.jpg", body: "jpeg!" },
      { name: "hymenoptera_data/link", body: "train/ants/a.jpg", unixMode: 0o120777 },
    ]);
    await extractArchive(c.file, c.dest, { subdir: "hymenoptera_data" });
    expect(fs.readFileSync(path.join(c.dest, "val", "bees", "b.jpg"), "utf8")).toBe("jpeg!");
    expect(fs.lstatSync(path.join(c.dest, "link")).isSymbolicLink()).toBe(true);
    const other = path.join(c.out, "other");
    await expect(extractArchive(c.file, other, { subdir: "nope" })).rejects.toThrow(/has no folder 'nope'.*hymenoptera_data/);
    expect(fs.readdirSync(c.out)).toEqual(["dataset"]);
  });

  it("a corrupt archive is a clear error, not a partial folder", async () => {
    const w = work();
    const z = path.join(w.base, "bad.zip");
    fs.writeFileSync(z, "this is not a zip file at all, just text that is long enough");
    await expect(extractArchive(z, w.dest)).rejects.toThrow(/Cannot read .*bad\.zip as a zip archive/);
    const t = path.join(w.base, "bad.tar.gz");
    fs.writeFileSync(t, zlib.gzipSync(Buffer.from("x".repeat(700))));
    await expect(extractArchive(t, w.dest)).rejects.toThrow(ArchiveError);
    expect(fs.readdirSync(w.out)).toEqual([]);
  });
});

describe("tar: escaping entries refuse the whole archive", () => {
  it("'../' path", async () => {
    const c = tarCase([{ name: "ok.txt", body: "fine" }, { name: "../evil.txt", body: "pwned" }]);
    await expectRefused(c.file, c.dest, c.out, "../evil.txt", /'\.\.'/);
    expect(fs.existsSync(path.join(c.out, "..", "evil.txt"))).toBe(false);
    expect(fs.existsSync(path.join(c.base, "evil.txt"))).toBe(false);
  });
  it("'..' in the middle of a path (tar.gz)", async () => {
    const c = tarCase([{ name: "a/../../evil.txt", body: "pwned" }], true);
    await expectRefused(c.file, c.dest, c.out, "a/../../evil.txt", /'\.\.'/);
  });
  it("absolute path", async () => {
    const c = tarCase([{ name: "/tmp/tl-evil-abs.txt", body: "pwned" }]);
    await expectRefused(c.file, c.dest, c.out, "/tmp/tl-evil-abs.txt", /absolute path/);
    expect(fs.existsSync("/tmp/tl-evil-abs.txt")).toBe(false);
  });
  it("symlink pointing outside (relative and absolute)", async () => {
    const c1 = tarCase([{ name: "link", type: "2", linkname: "../../etc" }]);
    await expectRefused(c1.file, c1.dest, c1.out, "link", /symlink/);
    const c2 = tarCase([{ name: "passwd", type: "2", linkname: "/etc/passwd" }]);
    await expectRefused(c2.file, c2.dest, c2.out, "passwd", /symlink to the absolute path/);
  });
  it("file written through a symlink (link to a folder, then link/file)", async () => {
    const c = tarCase([{ name: "d", type: "2", linkname: "sub" }, { name: "d/x.txt", body: "x" }]);
    await expectRefused(c.file, c.dest, c.out, "d/x.txt", /through the symlink 'd'/);
  });
  it("hardlink pointing outside (relative and absolute)", async () => {
    const c1 = tarCase([{ name: "h", type: "1", linkname: "../outside.txt" }]);
    await expectRefused(c1.file, c1.dest, c1.out, "h", /hardlink/);
    const c2 = tarCase([{ name: "shadow", type: "1", linkname: "/etc/shadow" }]);
    await expectRefused(c2.file, c2.dest, c2.out, "shadow", /hardlink/);
  });
  it("device files and FIFOs", async () => {
    const c1 = tarCase([{ name: "ok.txt", body: "ok" }, { name: "dev/null2", type: "3" }]);
    await expectRefused(c1.file, c1.dest, c1.out, "dev/null2", /device/);
    const c2 = tarCase([{ name: "sda", type: "4" }]);
    await expectRefused(c2.file, c2.dest, c2.out, "sda", /device/);
    const c3 = tarCase([{ name: "pipe", type: "6" }]);
    await expectRefused(c3.file, c3.dest, c3.out, "pipe", /FIFO/);
  });
});

describe("zip: escaping entries refuse the whole archive", () => {
  it("'../' path", async () => {
    const c = zipCase([{ name: "ok.txt", body: "ok" }, { name: "../evil.txt", body: "pwned" }]);
    await expectRefused(c.file, c.dest, c.out, "../evil.txt", /'\.\.'/);
    expect(fs.existsSync(path.join(c.base, "evil.txt"))).toBe(false);
  });
  it("absolute path", async () => {
    const c = zipCase([{ name: "/tmp/tl-evil-zip.txt", body: "pwned" }]);
    await expectRefused(c.file, c.dest, c.out, "/tmp/tl-evil-zip.txt", /absolute path/);
    expect(fs.existsSync("/tmp/tl-evil-zip.txt")).toBe(false);
  });
  it("symlink pointing outside, and a file written through a symlink", async () => {
    const c1 = zipCase([{ name: "ok.txt", body: "ok" }, { name: "link", body: "../../etc/passwd", unixMode: 0o120777 }]);
    await expectRefused(c1.file, c1.dest, c1.out, "link", /symlink/);
    const c2 = zipCase([{ name: "abs", body: "/etc", unixMode: 0o120777 }]);
    await expectRefused(c2.file, c2.dest, c2.out, "abs", /absolute path/);
    const c3 = zipCase([{ name: "d", body: "sub", unixMode: 0o120777 }, { name: "d/x.txt", body: "x" }]);
    await expectRefused(c3.file, c3.dest, c3.out, "d/x.txt", /through the symlink 'd'/);
  });
  it("device file", async () => {
    const c = zipCase([{ name: "tty", body: "", unixMode: 0o020644 }]);
    await expectRefused(c.file, c.dest, c.out, "tty", /device/);
  });
});
