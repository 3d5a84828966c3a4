/**
 * Archives, round 2: the same decompression limits for zip as for tar/tar.gz, plain permissions for extracted
 * files, a full disk reported as a full disk with no temporary folder left behind, and stale temps of killed
 * runs removed on the next run.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArchiveError, extractArchive } from "../../src/helpers/fetch";
import { makeTar, makeZip, canMountTmpfs, archiveWorkspace } from "../helpers/fixtures";

const work = archiveWorkspace("tl-archive2-", { beforeAll, afterAll });
const leftovers = (out: string) => fs.readdirSync(out).filter((f) => f.includes(".extract-"));

/** A deflated zip of one entry of `size` zero bytes (python's zipfile: a second, independent zip writer). */
function bombZip(file: string, size: number): void {
  const py = `import zipfile,sys\nwith zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED) as z:\n  with z.open('big.bin','w',force_zip64=True) as f:\n    b=bytes(1<<20)\n    for _ in range(${size >> 20}): f.write(b)\n`;
  execFileSync("python3", ["-c", py, file]);
}

describe("decompression limits for every format", () => {
  const SIZE = 80 * 1024 * 1024; // 80 MiB of zeros: a few tens of KB compressed

  it("refuses a zip that would expand over 100x, before writing anything", async () => {
    const w = work();
    const zip = path.join(w.base, "bomb.zip");
    bombZip(zip, SIZE);
    expect(fs.statSync(zip).size).toBeLessThan(SIZE / 100);
    const e = await extractArchive(zip, w.dest).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(ArchiveError);
    expect((e as Error).message).toMatch(/would expand to 83886080 bytes \(\d+x, limit 100x\).*decompression bomb/);
    expect(fs.existsSync(w.dest)).toBe(false);
    expect(leftovers(w.out)).toEqual([]);
  });

  it("refuses the same data as tar.gz with the same kind of message (node-tar's own 1000x guard fires first)", async () => {
    const w = work();
    const tgz = path.join(w.base, "bomb.tar.gz");
    fs.writeFileSync(tgz, zlib.gzipSync(makeTar([{ name: "big.bin", body: Buffer.alloc(SIZE) }])));
    const e = await extractArchive(tgz, w.dest).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(ArchiveError);
    expect((e as Error).message).toMatch(/Refusing to extract .*decompression bomb. Nothing was extracted/);
  });

  it("applies a total-size limit to zip and tar alike", async () => {
    for (const [name, bytes] of [
      ["a.zip", makeZip([{ name: "x.bin", body: Buffer.alloc(5000, 7) }])],
      ["a.tar", makeTar([{ name: "x.bin", body: Buffer.alloc(5000, 7) }])],
    ] as const) {
      const w = work();
      const f = path.join(w.base, name);
      fs.writeFileSync(f, bytes);
      await expect(extractArchive(f, w.dest, { maxBytes: 4096 })).rejects.toThrow(/hold 5000 bytes, over the limit of 4096 bytes/);
      expect(fs.existsSync(w.dest)).toBe(false);
      await extractArchive(f, w.dest); // the default limit lets it through
      expect(fs.statSync(path.join(w.dest, "x.bin")).size).toBe(5000);
    }
  });
});

describe("permissions", () => {
  it("extracts tar entries without setuid/setgid/sticky bits", async () => {
    const w = work();
    const t = path.join(w.base, "modes.tar");
    fs.writeFileSync(t, makeTar([
      { name: "d/", type: "5", mode: 0o3777 },
      { name: "d/suid.sh", body: "#!/bin/sh\n", mode: 0o4755 },
      { name: "d/sgid.sh", body: "#!/bin/sh\n", mode: 0o2755 },
    ]));
    await extractArchive(t, w.dest);
    for (const f of ["d", "d/suid.sh", "d/sgid.sh"]) {
      const mode = fs.statSync(path.join(w.dest, f)).mode;
      expect((mode & 0o7000).toString(8), f).toBe("0");
    }
    expect(fs.statSync(path.join(w.dest, "d/suid.sh")).mode & 0o100).toBe(0o100); // the plain x bit stays
  });
});

// A 1 MiB tmpfs needs root (mount); elsewhere this block is skipped.
const canMount = canMountTmpfs();

describe.skipIf(!canMount)("disk full during extraction (1 MiB tmpfs)", () => {
  let mnt: string;
  beforeAll(() => {
    mnt = fs.mkdtempSync(path.join(work().base, "mnt-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
  });
  afterAll(() => {
    spawnSync("umount", [mnt]);
  });

  for (const kind of ["tar.gz", "zip"] as const) {
    it(`reports ENOSPC for ${kind} and removes its temporary folder`, async () => {
      const big = Array.from({ length: 6 }, (_, i) => ({ name: `data/f${i}.bin`, body: Buffer.alloc(300 * 1024, i + 1) }));
      const archive = path.join(work().base, `full.${kind}`);
      fs.writeFileSync(archive, kind === "zip" ? makeZip(big) : zlib.gzipSync(makeTar(big)));
      const dest = path.join(mnt, `dataset-${kind}`);
      const e = await extractArchive(archive, dest).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(ArchiveError);
      const msg = (e as Error).message;
      expect(msg).toMatch(/ENOSPC: the disk is full/);
      expect(msg).not.toMatch(/ENOTEMPTY|download it again/);
      expect(fs.readdirSync(mnt).filter((f) => f.includes(".extract-"))).toEqual([]);
      expect(fs.existsSync(archive)).toBe(true);
    });
  }
});

describe("stale temporary folders", () => {
  it("removes .extract-* folders of dead processes on the next extraction, never a live one's", async () => {
    const w = work();
    const dead = spawnSync("true").pid!; // exited: its pid names no running process
    const stale = path.join(w.out, `.dataset.extract-${dead}-abc123`);
    const legacy = path.join(w.out, ".dataset.extract-Xy12Zq"); // old naming without a pid
    const live = path.join(w.out, `.dataset.extract-${process.ppid}-keep`);
    for (const d of [stale, legacy, live]) fs.mkdirSync(path.join(d, "half"), { recursive: true });
    const t = path.join(w.base, "ok.tar");
    fs.writeFileSync(t, makeTar([{ name: "a.txt", body: "hi" }]));
    await extractArchive(t, w.dest);
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(legacy)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    expect(fs.readFileSync(path.join(w.dest, "a.txt"), "utf8")).toBe("hi");
  });
});
