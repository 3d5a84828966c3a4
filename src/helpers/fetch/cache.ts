/**
 * Cache layout: one folder (config's cacheDir(), from TL_CACHE_DIR) holding `datasets/` and `models/`.
 * These helpers only compute paths; nothing here creates or writes anything, because the cache
 * may be a read-only, pre-filled copy.
 */
import * as path from "node:path";
import { cacheDir } from "../config";

function checkName(kind: string, name: string): void {
  // A name is one path segment below the cache; refusing separators and `..` keeps callers
  // from reaching outside the cache by accident.
  if (!name || name === "." || name === ".." || /[\\/]/.test(name) || name.includes("\0")) {
    throw new Error(`Invalid ${kind} name '${name}': use a single folder name such as 'hymenoptera_data' (no slashes or '..').`);
  }
}

/** `<cache>/datasets/<name>`: where a dataset lives once downloaded and extracted. */
export function datasetDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  checkName("dataset", name);
  return path.join(cacheDir(env), "datasets", name);
}

/** `<cache>/models/<name>`: where downloaded model weights live. */
export function modelDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  checkName("model", name);
  return path.join(cacheDir(env), "models", name);
}
