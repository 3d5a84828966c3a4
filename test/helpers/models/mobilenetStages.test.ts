process.env.TL_CACHE_DIR ??= require("node:path").resolve(__dirname, "../../../../shared/cache");
import { describe, expect, it } from "vitest";
import { loadBackbone } from "../../../src/helpers/models";
import { mobileNetV2Stage, MOBILENET_V2_STAGES } from "../../../src/helpers/transfer";

describe("mobileNetV2Stage", () => {
  it("maps Keras layer names to the five stages", () => {
    expect(["Conv1", "bn_Conv1", "expanded_conv_depthwise", "block_1_expand", "block_2_add", "block_3_project", "block_5_add", "block_6_expand", "block_16_project", "Conv_1_bn", "out_relu", "head_dense", "input_1"].map(mobileNetV2Stage))
      .toEqual(["stem", "stem", "stem", "early", "early", "middle", "middle", "late", "late", "late", "late", "head", undefined]);
  });
  it("covers every weighted layer of the real MobileNetV2 0.35", async () => {
    const { model } = await loadBackbone("mobilenet_v2_0.35");
    const weighted = model.layers.filter((l) => l.weights.length > 0);
    const stages = new Set(weighted.map((l) => mobileNetV2Stage(l.name)));
    expect(weighted.filter((l) => mobileNetV2Stage(l.name) === undefined).map((l) => l.name)).toEqual([]);
    expect([...stages].sort()).toEqual(MOBILENET_V2_STAGES.filter((s) => s !== "head").slice().sort());
    model.dispose();
  });
});
