/** Hymenoptera (ants/bees), the image-folder set of PyTorch's transfer-learning tutorial; its URL is registered here. */
import * as fs from "node:fs";
import * as path from "node:path";
import { datasetDir } from "../fetch/cache";
import { registerKnownDownload } from "../fetch";
import { ensureExtracted, type EnsureDatasetOptions } from "../fetch/ensure";
import { checkSameClasses, imageFolder, type ImageFolderDataset, type ImageFolderOptions } from "./imagefolder";

export const HYMENOPTERA_URL = registerKnownDownload({ url: "https://download.pytorch.org/tutorial/hymenoptera_data.zip", name: "hymenoptera dataset" });

export interface HymenopteraDataset {
  train: ImageFolderDataset;
  val: ImageFolderDataset;
  classes: string[];
}

/**
 * The ants/bees set of PyTorch's transfer-learning tutorial, from `<cache>/datasets/hymenoptera_data/{train,val}`
 * (downloaded and extracted from HYMENOPTERA_URL when missing). 244 train / 153 val images, classes [ants, bees].
 */
export async function hymenoptera(opts: EnsureDatasetOptions & ImageFolderOptions = {}): Promise<HymenopteraDataset> {
  const dir = datasetDir("hymenoptera_data");
  await ensureExtracted(
    "hymenoptera dataset", dir,
    { url: HYMENOPTERA_URL, file: "hymenoptera_data.zip", subdir: "hymenoptera_data" },
    (d) => fs.existsSync(path.join(d, "train")) && fs.existsSync(path.join(d, "val")),
    opts,
  );
  const train = await imageFolder(path.join(dir, "train"), opts);
  const val = await imageFolder(path.join(dir, "val"), opts);
  checkSameClasses(train, val);
  return { train, val, classes: train.classes };
}
