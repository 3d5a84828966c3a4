/** The download errors, with a code callers and tests can tell apart without parsing text. */
import { ENV, cacheDir } from "../config";

/** Why a download failed; `code` lets callers and tests tell the cases apart without parsing text. */
export type DownloadErrorCode =
  | "not-in-cache" | "checksum" | "size" | "http" | "network" | "refused-url" | "lock" | "content-type" | "timeout" | "aborted" | "disk";

export class DownloadError extends Error {
  readonly code: DownloadErrorCode;
  readonly url: string;
  constructor(code: DownloadErrorCode, url: string, message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = "DownloadError";
    this.code = code;
    this.url = url;
    if (options && "cause" in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The message for a file that is missing while downloads are impossible. */
export function notInCacheMessage(name: string, where: string, url: string): string {
  return `${name} is not in ${where}; download it from ${url}, or set ${ENV.cacheDir} to a folder that has it` +
    ` (current cache: ${cacheDir()}).`;
}
