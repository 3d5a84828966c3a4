/**
 * The registry of URLs the helpers may fetch without `explicitUrl`, d2l DATA_HUB style: each dataset loader (sets/)
 * and the model zoo (models/) registers its own URLs, sizes and checksums beside the code that uses them.
 */
/** One entry of the registry of URLs the helpers may fetch without `explicitUrl`. */
export interface KnownDownload {
  /** Exact URL, or a prefix ending in "/" that covers every URL below it. */
  url: string;
  name: string;
  md5?: string;
  sha256?: string;
  size?: number;
  /**
   * The official host serves only plain http (Fashion-MNIST's S3 website, Stanford, Oxford VOC).
   * Registered so the official URLs work; integrity then rests on the pinned checksum where one is published.
   */
  httpOnly?: boolean;
}

const KNOWN: KnownDownload[] = [];

/** Add a URL (or a prefix ending in "/") to the registry; returns the URL, so a loader can define its constant with it. */
export function registerKnownDownload(entry: KnownDownload): string {
  const i = KNOWN.findIndex((k) => k.url === entry.url);
  if (i >= 0) KNOWN[i] = entry;
  else KNOWN.push(entry);
  return entry.url;
}

/** The registry entry covering `url` (exact match first, then the longest prefix), if any. */
export function knownDownload(url: string): KnownDownload | undefined {
  const exact = KNOWN.find((k) => k.url === url);
  if (exact) return exact;
  let best: KnownDownload | undefined;
  for (const k of KNOWN) {
    if (k.url.endsWith("/") && url.startsWith(k.url) && (!best || k.url.length > best.url.length)) best = k;
  }
  return best;
}
