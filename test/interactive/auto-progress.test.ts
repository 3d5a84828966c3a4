/** The long helpers show one progress bar by themselves where someone watches, and never two. */
import * as tf from "@tensorflow/tfjs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { setNotebookDisplay, trainingProgress, type DisplayLike } from "../../src/helpers/display";
import { trainModel } from "../../src/helpers/train";
import { buildHeadModel, featureBatchStream } from "../../src/helpers/transfer";

/** A fake tslab display: counts in-place displays and keeps each one's latest HTML. */
function fakeKernel() {
  const shown: string[] = [];
  const make = (): DisplayLike => {
    const i = shown.push("") - 1;
    return { html: (s) => void (shown[i] = s), svg() {}, png() {}, text() {} };
  };
  setNotebookDisplay({ display: make(), newDisplay: make });
  shown.length = 0; // the plain `display` above is not a progress output
  return shown;
}

const set = (() => {
  const n = 64, d = 4;
  return { features: new Float32Array(n * d).map((_, i) => Math.sin(i)), labels: new Int32Array(n).map((_, i) => i % 2), featureShape: [d], labelShape: [] as number[], numSamples: n };
})();
const train = (opts: Partial<Parameters<typeof trainModel>[2]> = {}) =>
  trainModel(buildHeadModel([4], { numClasses: 2 }), featureBatchStream(set, { batchSize: 16 }), { epochs: 3, ...opts });

beforeAll(async () => {
  await tf.setBackend("cpu");
});
afterEach(() => {
  setNotebookDisplay(undefined);
  delete process.env.TL_HEADLESS;
});

describe("automatic training progress", () => {
  it("in a notebook: one bar, left in its final state", async () => {
    const shown = fakeKernel();
    await train();
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatch(/epoch <progress value="3" max="3"[^>]*><\/progress> 3\/3 \[done in [^\]]+\]  loss [\d.]+/);
  });

  it("in the headless run also one in-place bar (the handout keeps the final state, not a line per epoch)", async () => {
    process.env.TL_HEADLESS = "1";
    const shown = fakeKernel();
    await train();
    expect(shown).toHaveLength(1);
    expect(shown[0]).toContain("3/3 [done in");
  });

  it("a caller's own trainingProgress() is not doubled, and progress: false shows none", async () => {
    const shown = fakeKernel();
    await train({ callbacks: trainingProgress() });
    expect(shown).toHaveLength(1);
    await train({ progress: false });
    expect(shown).toHaveLength(1);
  });

  it("a caller's own callbacks still run beside the bar", async () => {
    const shown = fakeKernel();
    const epochs: number[] = [];
    await train({ callbacks: { onEpochEnd: (l) => void epochs.push(l.epoch) } });
    expect(epochs).toEqual([0, 1, 2]);
    expect(shown).toHaveLength(1);
  });

  it("in a pipe (the test runner) nothing is shown", async () => {
    setNotebookDisplay(null);
    const writes: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    (process.stdout as any).write = (s: string) => (writes.push(String(s)), true);
    try {
      await train();
    } finally {
      (process.stdout as any).write = orig;
    }
    expect(writes.filter((w) => /epoch/.test(w))).toEqual([]);
  });
});
