// STUB: owned by the data helper, who replaces this file. Signature is the contract other modules code against.
export interface DownloadOptions {
  /** Expected SHA-256 (hex). A mismatch discards the file and throws, naming expected vs actual. */
  sha256?: string;
  /** Expected size in bytes, when known. */
  size?: number;
  /** Human name for messages, e.g. "hymenoptera dataset". */
  name?: string;
  onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
}
/**
 * Make sure `dest` exists: if it does, return it; else download `url` to it (resume, verify, atomic rename, lock).
 * When offline (TL_OFFLINE=1 or no network) throws: "<name> is not in <cache>; download it from <url> or set TL_CACHE_DIR".
 */
export async function ensureDownloaded(url: string, dest: string, opts: DownloadOptions = {}): Promise<string> {
  throw new Error(`ensureDownloaded not implemented yet (${url} -> ${dest}, ${JSON.stringify(opts.name)})`);
}
