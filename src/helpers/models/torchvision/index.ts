/** torchvision's networks in TF.js, PyTorch state dict import, and the official pretrained files. */
export * from "./adaptivePool";
export * from "./architectures";
export * from "./stateDict";
export * from "./pretrained";
