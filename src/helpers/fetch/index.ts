/** Fetching: the download cache's paths, verified resumable downloads, safe archive extraction. */
export { datasetDir, modelDir } from "./cache";
export {
  ensureDownloaded, registerKnownDownload, knownDownload, hashFile, notInCacheMessage, DownloadError,
  type DownloadOptions, type KnownDownload, type DownloadErrorCode,
} from "./download";
export { extractArchive, listArchive, ArchiveError, type ArchiveFormat, type ExtractOptions } from "./archive";
export { ensureExtracted, type ArchiveSource, type EnsureDatasetOptions } from "./ensure";
