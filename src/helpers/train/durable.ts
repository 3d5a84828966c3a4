/**
 * Durable checkpoint writes: data is fsynced before the rename that publishes it, and the folder entry after,
 * so a power cut leaves the previous checkpoint or the new one, never a new name over unwritten blocks.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Write `data` to `file` and fsync it before returning. */
export function writeFileDurable(file: string, data: Buffer | string): void {
  const fd = fs.openSync(file, "w");
  try {
    fs.writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsync a folder so the renames and new entries in it survive a crash (a no-op where folders cannot be opened). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Some file systems (and Windows) refuse to open or fsync a folder; the file data itself is already synced.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Thrown when a checkpoint file is missing, truncated or unreadable; the message names the file and the fix. */
export class CheckpointError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(message);
    this.name = "CheckpointError";
    this.file = file;
  }
}

/**
 * Refuse a checkpointDir we could not write to, before any epoch is trained (not with a raw ENOTDIR after the first).
 * Creates it when missing and writes (then removes) a probe file.
 */
export function checkCheckpointDirWritable(dir: string): void {
  const fix = "Pass a checkpointDir that is a writable folder (or leave checkpointDir out to train without checkpoints).";
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
    throw new Error(`checkpointDir ${dir} is a file, not a folder. ${fix}`);
  }
  const probe = path.join(dir, `.write-test-${process.pid}`);
  try {
    mkdirReportingCause(dir);
    fs.writeFileSync(probe, "");
    fs.rmSync(probe, { force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    throw new Error(`Cannot write checkpoints to ${dir} (${code || (e as Error).message}${code === "EROFS" ? ": read-only file system" : ""}${code === "ENOTDIR" ? ": a parent of it is a file" : ""}). ${fix}`);
  }
}

/** mkdir -p one level at a time: Node's recursive mkdir reports ENOENT where the real cause is EROFS or EACCES. */
function mkdirReportingCause(dir: string): void {
  const missing: string[] = [];
  let d = path.resolve(dir);
  while (!fs.existsSync(d)) {
    missing.unshift(d);
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing) fs.mkdirSync(m);
}
