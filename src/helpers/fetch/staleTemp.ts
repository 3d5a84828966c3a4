/**
 * Temporary folders named `<prefix><pid>...` (extraction and checkpoint temps) are left behind when a run is
 * killed. The next run removes those whose process is gone; a live process's temp is never touched.
 */
import * as fs from "node:fs";
import * as path from "node:path";

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Remove `parent/<prefix><pid>...` entries whose pid is not a running process; returns the removed paths. */
export function removeStaleTemps(parent: string, prefix: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const m = /^(\d+)/.exec(n.slice(prefix.length));
    if (m && alive(Number(m[1]))) continue;
    try {
      fs.rmSync(path.join(parent, n), { recursive: true, force: true });
      removed.push(path.join(parent, n));
    } catch {
      // Not ours to fight over (permissions); it stays for the user to delete.
    }
  }
  return removed;
}

/** Remove a temporary folder without letting a failure hide the error that made us clean up. */
export async function removeTemp(dir: string): Promise<void> {
  // Writes that were still in flight when the error came can make one rm see ENOTEMPTY; retry.
  await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }).catch(() => undefined);
}

/** Disk-full and friends, as a sentence: these are not "the archive is broken". */
export function diskProblem(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code ?? /\b(ENOSPC|EDQUOT|EROFS|EACCES)\b/.exec(String((e as Error)?.message ?? ""))?.[1];
  if (code === "ENOSPC" || code === "EDQUOT") return `${code}: the disk is full (or over quota)`;
  if (code === "EROFS") return "EROFS: the file system is read-only";
  if (code === "EACCES") return "EACCES: permission denied";
  return undefined;
}
