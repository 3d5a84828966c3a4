/**
 * "Make sure this dataset folder is in the cache": if it is, do nothing (no lock, no temp file, so a
 * read-only cache works); else download the archive, extract it safely and rename it into place,
 * under a lock so two processes never extract at once.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as lockfile from "proper-lockfile";
import { ENV, offline } from "../config";
import { extractArchive, type ArchiveFormat } from "./archive";
import { ensureDownloaded, type DownloadOptions } from "./download";
import { DownloadError, notInCacheMessage } from "./errors";

export interface ArchiveSource {
  /** Official URL of the archive. */
  url: string;
  /** Archive file name in the datasets folder while downloading. */
  file: string;
  /** Folder of the archive that becomes `dest` (default: the whole archive). */
  subdir?: string;
  format?: ArchiveFormat;
}

export interface EnsureDatasetOptions extends Pick<DownloadOptions, "onProgress" | "offline" | "allowInsecure" | "explicitUrl" | "retries" | "retryDelayMs" | "deadlineMs" | "signal"> {
  /** Keep the downloaded archive after extraction (default false: it is deleted to save space). */
  keepArchive?: boolean;
}

/**
 * Ensure `dest` exists (as judged by `isComplete`), downloading and extracting `source` when it does not.
 * `name` is used in messages ("hymenoptera dataset").
 */
export async function ensureExtracted(
  name: string,
  dest: string,
  source: ArchiveSource,
  isComplete: (dir: string) => boolean,
  opts: EnsureDatasetOptions = {},
): Promise<string> {
  if (isComplete(dest)) return dest;
  const parent = path.dirname(dest);
  if (opts.offline ?? offline()) {
    throw new DownloadError("not-in-cache", source.url, notInCacheMessage(name, parent, source.url) + ` (${ENV.offline} is set, so nothing is downloaded.)`);
  }
  if (fs.existsSync(dest)) {
    throw new Error(
      `${dest} exists but is incomplete (${name} files are missing). Delete that folder to download it again, ` +
        `or complete it by hand from ${source.url}.`,
    );
  }
  try {
    fs.mkdirSync(parent, { recursive: true });
  } catch (e) {
    throw new DownloadError("not-in-cache", source.url, notInCacheMessage(name, parent, source.url) + ` (cannot create it: ${(e as Error).message})`);
  }
  let release: () => Promise<void>;
  try {
    release = await lockDir(dest);
  } catch (e) {
    // Typically a read-only cache that lacks the dataset: say where to get it, not just "cannot lock".
    throw new DownloadError("not-in-cache", source.url, notInCacheMessage(name, parent, source.url) + ` (${(e as Error).message})`);
  }
  try {
    if (isComplete(dest)) return dest; // another process finished while we waited
    const archive = path.join(parent, source.file);
    await ensureDownloaded(source.url, archive, { name, ...opts });
    await extractArchive(archive, dest, { subdir: source.subdir, format: source.format });
    if (!isComplete(dest)) {
      throw new Error(`${source.file} was extracted to ${dest}, but expected files are missing; the archive is not the expected one. Delete ${dest} and ${archive} and try again.`);
    }
    if (!opts.keepArchive) await fs.promises.rm(archive, { force: true });
    return dest;
  } finally {
    await release();
  }
}

/** Lock `<dir>.lock` with a bounded wait (stale locks of dead processes expire after 20 s). */
async function lockDir(dir: string): Promise<() => Promise<void>> {
  const start = Date.now();
  for (;;) {
    try {
      return await lockfile.lock(dir, { realpath: false, lockfilePath: `${dir}.lock`, stale: 20_000, update: 5_000, onCompromised: () => undefined });
    } catch (e) {
      if ((e as { code?: string }).code !== "ELOCKED" || Date.now() - start > 60 * 60_000) {
        throw new Error(`Cannot lock ${dir}.lock: ${(e as Error).message}. If no other download is running, delete ${dir}.lock.`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
