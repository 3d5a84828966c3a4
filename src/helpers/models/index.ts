/** Models: file I/O, the pretrained zoo, from-scratch builders, saving trained models. */
export * from "./io";
export * from "./zoo";
export * from "./builders";
export * from "./saved";
export * from "./inputSize";
export * from "./fingerprint";
export * from "./layerSelect";
export * from "./zooChecksums";
export * from "./pth";
export * from "./torchvision";
export * from "./classifierPipeline";
export * from "./classifierExport";
export * from "./imagenetClassifier";
export * from "./publishedAccuracy";
