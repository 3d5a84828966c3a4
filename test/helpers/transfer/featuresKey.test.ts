/** The feature cache is keyed by the backbone's weights: retrained weights never get stale features back. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arrayStream } from "../../../src/helpers/pipeline";
import { extractFeatures, freezeLayers } from "../../../src/helpers/transfer";
import { weightsFingerprint } from "../../../src/helpers/models";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-featkey-"));
beforeAll(async () => {
  await tf.setBackend("cpu");
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("feature cache key", () => {
  it("hits for the same weights and misses after the weights change", async () => {
    const net = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })] });
    const images = new Uint8Array(6 * 4 * 4).map((_, i) => (i * 29) % 256);
    const data = () => arrayStream({ images, imageShape: [4, 4, 1], labels: [0, 1, 0, 1, 0, 1], batchSize: 3 });
    const opts = () => ({ backbone: net, backboneName: "tiny", preprocessing: "none" as const, data: data(), cacheRoot: tmp });
    const a = await extractFeatures(opts());
    const b = await extractFeatures(opts());
    expect([a.fromCache, b.fromCache]).toEqual([false, true]);
    expect(Array.from(b.features)).toEqual(Array.from(a.features));

    net.layers[0].setWeights(net.layers[0].getWeights().map((w) => tf.mul(w, 2)));
    const c = await extractFeatures(opts());
    expect(c.fromCache).toBe(false);
    expect(c.key).not.toBe(a.key);
    expect(c.features[0]).toBeCloseTo(2 * a.features[0], 4);
    net.dispose();
  });

  it("does not depend on which layers are frozen (a frozen and a trainable copy share cached features)", () => {
    const net = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.batchNormalization({ movingVarianceInitializer: "ones" }),
        tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    const before = weightsFingerprint(net);
    freezeLayers(net, { all: true });
    expect(net.trainableWeights).toHaveLength(0);
    expect(weightsFingerprint(net)).toBe(before);
    const bn = net.layers[1];
    bn.setWeights(bn.getWeights().map((w, i) => (i === 2 ? tf.add(w, 1) : w))); // moving mean changes
    expect(weightsFingerprint(net)).not.toBe(before);
    net.dispose();
  });
});
