/**
 * Layer groups ("stages") of a backbone for per-group learning rates and weight-change reports, by backbone family:
 * torchvision ResNets use the source chapter's own groups (conv1, layer1..layer4, fc), MobileNetV2 the stand-ins
 * of ./ops (stem, early, middle, late, head).
 */
import { MOBILENET_V2_STAGES, mobileNetV2Stage } from "./ops";

/** ResNet's parameter groups as chapter 5's source gives them to its optimizer. */
export const RESNET_STAGES: readonly string[] = ["conv1", "layer1", "layer2", "layer3", "layer4", "fc"];

/**
 * Stage of a torchvision-named ResNet layer: `conv1`, `layerN.*`, and the new classifier `fc` / `fc_*`.
 * `bn1` belongs to none: the source puts only `model.conv1.parameters()` in its first group, so PyTorch never
 * updates bn1 there, and neither does a grouped optimizer here.
 */
export function resNetStage(layerName: string): string | undefined {
  if (layerName === "conv1") return "conv1";
  const m = /^(layer[1-4])\./.exec(layerName);
  if (m) return m[1];
  if (layerName === "fc" || layerName.startsWith("fc_")) return "fc";
  return undefined;
}

export interface BackboneStages {
  /** Stage names, input to output; the last is the new classifier. */
  names: readonly string[];
  /** Name to give the new classifier head (`addClassifierHead({ name })`), so its layers fall in the last stage. */
  head: string;
  /** Stage of a layer, undefined when in none. */
  of(layerName: string): string | undefined;
}

/** The stages of a backbone family ("mobilenet_v2" or "torchvision" ResNet, as in BackboneSpec). */
export function backboneStages(spec: { family: string; name: string }): BackboneStages {
  if (spec.family === "torchvision" && spec.name.startsWith("resnet")) return { names: RESNET_STAGES, head: "fc", of: resNetStage };
  if (spec.family === "mobilenet_v2") return { names: MOBILENET_V2_STAGES, head: "head", of: mobileNetV2Stage };
  throw new Error(`backboneStages: no layer groups defined for backbone '${spec.name}' (family ${spec.family}); use a MobileNetV2 or a torchvision ResNet, or build the groups with layer selectors.`);
}
