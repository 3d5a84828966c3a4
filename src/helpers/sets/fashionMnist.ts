/** Fashion-MNIST (IDX gz files): Debian's package folder, else the cache; its URLs and checksums are registered here. */
import * as fs from "node:fs";
import * as path from "node:path";
import { datasetDir } from "../fetch/cache";
import { ensureDownloaded, registerKnownDownload, type DownloadOptions } from "../fetch";
import { rehearsalPerClass } from "../config";
import type { ArrayDataset } from "./arrays";
import { parseIdx } from "./idx";
import { firstPerClass } from "./subsets";

export const FASHION_MNIST_CLASSES: readonly string[] = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
export const FASHION_MNIST_BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";
// md5s as published in the Fashion-MNIST README (and torchvision). The S3 website serves only http.
for (const [file, name, md5] of [
  ["train-images-idx3-ubyte.gz", "train images", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"],
  ["train-labels-idx1-ubyte.gz", "train labels", "25c81989df183df01b3e8a0aad5dffbe"],
  ["t10k-images-idx3-ubyte.gz", "test images", "bef4ecab320f06d8554ea6380940ec79"],
  ["t10k-labels-idx1-ubyte.gz", "test labels", "bb300cfdad3c16e7a12a480ee83cd310"],
]) {
  registerKnownDownload({ url: FASHION_MNIST_BASE_URL + file, name: `Fashion-MNIST ${name}`, md5, httpOnly: true });
}
/** Where Debian's `dataset-fashion-mnist` package installs the files. */
export const FASHION_MNIST_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist";

export interface FashionMnistOptions extends Pick<DownloadOptions, "onProgress" | "offline" | "retries" | "retryDelayMs"> {
  split?: "train" | "test";
  /** Folder with the four .gz files; default: the Debian package's folder, else `<cache>/datasets/fashion-mnist` (downloaded if missing). */
  root?: string;
  /** Keep only the first `limit` samples. */
  limit?: number;
}

function fashionFiles(split: "train" | "test"): [string, string] {
  const p = split === "train" ? "train" : "t10k";
  return [`${p}-images-idx3-ubyte.gz`, `${p}-labels-idx1-ubyte.gz`];
}

/** Fashion-MNIST (60,000 train / 10,000 test, 28x28x1 uint8). Looks in the Debian package folder, then the cache, then downloads. */
export async function loadFashionMnist(opts: FashionMnistOptions = {}): Promise<ArrayDataset> {
  const split = opts.split ?? "train";
  const names = fashionFiles(split);
  let root = opts.root;
  if (!root) {
    const has = (d: string) => names.every((n) => fs.existsSync(path.join(d, n)) || fs.existsSync(path.join(d, n.replace(/\.gz$/, ""))));
    if (has(FASHION_MNIST_SYSTEM_DIR)) root = FASHION_MNIST_SYSTEM_DIR;
    else {
      root = datasetDir("fashion-mnist");
      if (!has(root)) {
        for (const n of names) {
          await ensureDownloaded(FASHION_MNIST_BASE_URL + n, path.join(root, n), { ...opts, name: `Fashion-MNIST ${n}` });
        }
      }
    }
  }
  const read = (n: string) => {
    const gz = path.join(root!, n);
    const raw = gz.replace(/\.gz$/, "");
    const f = fs.existsSync(gz) ? gz : fs.existsSync(raw) ? raw : undefined;
    if (!f) throw new Error(`Fashion-MNIST file ${n} is missing from ${root}; install the Debian package dataset-fashion-mnist or download it from ${FASHION_MNIST_BASE_URL}${n}.`);
    return parseIdx(fs.readFileSync(f), f);
  };
  const img = read(names[0]);
  const lab = read(names[1]);
  if (img.shape.length !== 3 || img.shape[1] !== 28 || img.shape[2] !== 28) throw new Error(`Fashion-MNIST images have shape [${img.shape}], expected [N, 28, 28].`);
  if (lab.shape.length !== 1 || lab.shape[0] !== img.shape[0]) throw new Error(`Fashion-MNIST has ${img.shape[0]} images but ${lab.shape[0]} labels.`);
  const count = Math.min(img.shape[0]!, opts.limit ?? Infinity);
  const ds: ArrayDataset = {
    images: img.data.slice(0, count * 784),
    labels: Int32Array.from(lab.data.subarray(0, count)),
    classes: [...FASHION_MNIST_CLASSES],
    imageShape: [28, 28, 1],
    count,
  };
  const cap = rehearsalPerClass();
  return cap === undefined ? ds : firstPerClass(ds, cap);
}
