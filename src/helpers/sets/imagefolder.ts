/**
 * torchvision.datasets.ImageFolder semantics for a `root/<class>/**\/<image>` tree.
 *
 * - classes: the sorted names of root's sub-folders, sorted like Python's sorted() (by code point);
 * - files: every file below a class folder (recursively, following the same order as torchvision:
 *   directories sorted by path, file names sorted) whose extension is in IMG_EXTENSIONS, case-insensitive;
 * - differences, on purpose: hidden files and folders (name starting with ".", e.g. .DS_Store,
 *   .ipynb_checkpoints, macOS "._x.jpg") are ignored, and an empty class folder is kept (so label indices
 *   stay aligned with the other split) and reported instead of raising.
 *
 * Validation is eager by default: every image is decode-checked once when the folder is loaded
 * (hymenoptera: ~400 files, about a second), so a broken file is skipped with one warning here rather
 * than failing mid-epoch. Pass `validate: false` for large sets (Stanford Dogs: 20k files); broken
 * files then surface as ImageDecodeError when decoded.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { IMG_EXTENSIONS, hasImageExtension, validateImages, type UndecodableImage } from "../pipeline/decode";

export interface ImageSample {
  path: string;
  label: number;
}

export interface SkippedFiles {
  /** Files without an image extension (e.g. hymenoptera's train/ants/imageNotFound.gif). */
  nonImage: number;
  /** Their paths, relative to root. */
  nonImageFiles: string[];
  /** Hidden files and folders ignored (names starting with "."). */
  hidden: number;
  /** Image-named files that failed to decode (only when validated), with the reason. Left out of samples. */
  undecodable: UndecodableImage[];
  /** Class folders that hold no usable image. */
  emptyClasses: string[];
  /** Files at the top level of root (not in any class folder). */
  looseFiles: number;
  /**
   * FIFOs, sockets, devices (or symlinks to one) below a class folder, relative to root. Never opened:
   * reading a FIFO blocks forever.
   */
  specialFiles: string[];
}

export interface ImageFolderDataset {
  root: string;
  classes: string[];
  samples: ImageSample[];
  skipped: SkippedFiles;
}

export interface ImageFolderOptions {
  /** Decode-check every image and drop undecodable ones (default true). */
  validate?: boolean;
  /** Extensions to accept (default torchvision's IMG_EXTENSIONS). */
  extensions?: readonly string[];
  /** Print the one-line summary of skipped files with console.warn (default true). */
  warn?: boolean;
}

/** Compare like Python's str ordering: by Unicode code point (JS's default sort compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

const isHidden = (name: string) => name.startsWith(".");

/** The class folders of `root`, sorted by code point; hidden folders are ignored. */
export function findClasses(root: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch (e) {
    throw new Error(`Cannot read image folder ${root}: ${(e as Error).message}. Check the path; it should hold one sub-folder per class.`);
  }
  const classes = entries
    .filter((d) => !isHidden(d.name) && (d.isDirectory() || (d.isSymbolicLink() && isDir(path.join(root, d.name)))))
    .map((d) => d.name)
    .sort(compareCodePoints);
  if (classes.length === 0) {
    throw new Error(`Image folder ${root} has no class sub-folders; expected ${root}/<class name>/<images>.`);
  }
  return classes;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** A symlink to a FIFO/socket/device (lstat says "link", stat says what it points to); a broken link is not special. */
function isSpecial(p: string): boolean {
  try {
    const st = fs.statSync(p);
    return !st.isFile() && !st.isDirectory();
  } catch {
    return false;
  }
}

/** Walk `dir` like os.walk(followlinks=True) + torchvision's sorting; collects (dir, sorted file names). */
function walk(dir: string, out: { dir: string; files: string[] }[], counts: { hidden: number; special: string[] }, seen: Set<string>): void {
  // Guard against symlink cycles (torchvision would loop; we visit each real directory once).
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return;
  }
  if (seen.has(real)) return;
  seen.add(real);
  const files: string[] = [];
  const subdirs: string[] = [];
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    if (isHidden(d.name)) {
      counts.hidden++;
      continue;
    }
    const full = path.join(dir, d.name);
    if (d.isDirectory() || (d.isSymbolicLink() && isDir(full))) subdirs.push(d.name);
    else if (d.isFile() || (d.isSymbolicLink() && !isSpecial(full))) files.push(d.name);
    else counts.special.push(full);
  }
  out.push({ dir, files: files.sort(compareCodePoints) });
  for (const s of subdirs.sort(compareCodePoints)) walk(path.join(dir, s), out, counts, seen);
}

/** Summary line for the skipped files, or undefined when nothing was skipped. */
export function describeSkipped(root: string, s: SkippedFiles): string | undefined {
  const parts: string[] = [];
  if (s.nonImage) parts.push(`${s.nonImage} non-image file(s) (${s.nonImageFiles.slice(0, 5).join(", ")}${s.nonImage > 5 ? ", ..." : ""})`);
  if (s.undecodable.length) parts.push(`${s.undecodable.length} undecodable image(s): ${s.undecodable.map((u) => path.relative(root, u.path)).join(", ")}`);
  if (s.emptyClasses.length) parts.push(`empty class folder(s): ${s.emptyClasses.join(", ")}`);
  if (s.hidden) parts.push(`${s.hidden} hidden file(s)`);
  if (s.looseFiles) parts.push(`${s.looseFiles} file(s) outside class folders`);
  if (s.specialFiles?.length) parts.push(`${s.specialFiles.length} special file(s) (FIFO, socket or device; not opened): ${s.specialFiles.slice(0, 5).join(", ")}${s.specialFiles.length > 5 ? ", ..." : ""}`);
  return parts.length ? `imageFolder ${root}: skipped ${parts.join("; ")}.` : undefined;
}

/** Load a folder-per-class image tree with torchvision ImageFolder semantics (see the module comment). */
export async function imageFolder(root: string, opts: ImageFolderOptions = {}): Promise<ImageFolderDataset> {
  root = path.resolve(root);
  const classes = findClasses(root);
  const extensions = opts.extensions ?? IMG_EXTENSIONS;
  const skipped: SkippedFiles = { nonImage: 0, nonImageFiles: [], hidden: 0, undecodable: [], emptyClasses: [], looseFiles: 0, specialFiles: [] };
  for (const d of fs.readdirSync(root, { withFileTypes: true })) {
    if (isHidden(d.name)) skipped.hidden++;
    else if (!classes.includes(d.name)) skipped.looseFiles++;
  }

  let samples: ImageSample[] = [];
  const counts = { hidden: 0, special: [] as string[] };
  classes.forEach((cls, label) => {
    const dirs: { dir: string; files: string[] }[] = [];
    walk(path.join(root, cls), dirs, counts, new Set());
    // torchvision: sorted(os.walk(...)) orders the directories by path.
    dirs.sort((a, b) => compareCodePoints(a.dir, b.dir));
    for (const { dir, files } of dirs) {
      for (const f of files) {
        const full = path.join(dir, f);
        if (hasImageExtension(f, extensions)) samples.push({ path: full, label });
        else {
          skipped.nonImage++;
          skipped.nonImageFiles.push(path.relative(root, full));
        }
      }
    }
  });
  skipped.hidden += counts.hidden;
  skipped.specialFiles = counts.special.map((f) => path.relative(root, f));

  if (opts.validate ?? true) {
    skipped.undecodable = await validateImages(samples);
    if (skipped.undecodable.length) {
      const bad = new Set(skipped.undecodable.map((u) => u.path));
      samples = samples.filter((s) => !bad.has(s.path));
    }
  }
  const perClass = new Array<number>(classes.length).fill(0);
  for (const s of samples) perClass[s.label]!++;
  skipped.emptyClasses = classes.filter((_, i) => perClass[i] === 0);
  if (samples.length === 0) {
    throw new Error(
      `Image folder ${root} has no usable images (looked for ${extensions.join(", ")} in ${classes.length} class folder(s)). ` +
        `Check that the images are in ${root}/<class>/.`,
    );
  }
  const summary = describeSkipped(root, skipped);
  if (summary && (opts.warn ?? true)) console.warn(summary);
  return { root, classes, samples, skipped };
}

/**
 * Throw when two splits disagree on their classes (e.g. train has a folder val lacks): their label
 * indices would then mean different things. The message names what is missing where.
 */
export function checkSameClasses(
  a: { classes: readonly string[]; root?: string },
  b: { classes: readonly string[]; root?: string },
): void {
  const same = a.classes.length === b.classes.length && a.classes.every((c, i) => c === b.classes[i]);
  if (same) return;
  const an = a.root ?? "first dataset";
  const bn = b.root ?? "second dataset";
  const onlyA = a.classes.filter((c) => !b.classes.includes(c));
  const onlyB = b.classes.filter((c) => !a.classes.includes(c));
  const parts: string[] = [];
  if (onlyA.length) parts.push(`only in ${an}: ${onlyA.map((c) => JSON.stringify(c)).join(", ")}`);
  if (onlyB.length) parts.push(`only in ${bn}: ${onlyB.map((c) => JSON.stringify(c)).join(", ")}`);
  if (!parts.length) parts.push(`same names in a different order: [${a.classes.join(", ")}] vs [${b.classes.join(", ")}]`);
  throw new Error(
    `Class lists differ between ${an} and ${bn} (${parts.join("; ")}), so label indices would not match. ` +
      `Make both folders hold the same class sub-folders (an empty folder is fine).`,
  );
}
