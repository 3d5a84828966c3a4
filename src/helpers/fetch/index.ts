/** Fetching: the download cache's paths, verified resumable downloads, safe archive extraction. */
export { datasetDir, modelDir } from "./cache";
export { ensureDownloaded, type DownloadOptions } from "./download";
export { registerKnownDownload, knownDownload, type KnownDownload } from "./registry";
export { DownloadError, notInCacheMessage, type DownloadErrorCode } from "./errors";
export { hashFile } from "./verify";
export { extractArchive, listArchive, ArchiveError, type ArchiveFormat, type ExtractOptions } from "./archive";
export { ensureExtracted, type ArchiveSource, type EnsureDatasetOptions } from "./ensure";
export { downloadMirror, parseMirror, mirroredLocation, mirrorBanner, isLoopbackHost, downloadManifest, manifestEntry, type DownloadMirror, type ManifestEntry } from "./mirror";
