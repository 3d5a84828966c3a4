/** summariseSeeds: groups, mean, sample standard deviation, and clear errors. */
import { describe, expect, it } from "vitest";
import { summariseSeeds } from "../../../src/helpers/eval";

describe("summariseSeeds", () => {
  const rows = [
    { method: "head", k: 10, seed: 0, acc: 0.8 },
    { method: "scratch", k: 10, seed: 0, acc: 0.5 },
    { method: "head", k: 10, seed: 1, acc: 0.9 },
    { method: "head", k: 100, seed: 0, acc: 0.95 },
    { method: "head", k: 10, seed: 2, acc: 0.7 },
  ];

  it("groups by the given fields in order of first appearance", () => {
    const s = summariseSeeds(rows, ["method", "k"], "acc");
    expect(s.map((g) => g.group)).toEqual([{ method: "head", k: 10 }, { method: "scratch", k: 10 }, { method: "head", k: 100 }]);
    expect(s.map((g) => g.n)).toEqual([3, 1, 1]);
  });

  it("reports mean, sample standard deviation, range and every value", () => {
    const [head10, scratch10] = summariseSeeds(rows, ["method", "k"], "acc");
    expect(head10.mean).toBeCloseTo(0.8, 12);
    expect(head10.sd).toBeCloseTo(0.1, 12); // values 0.7, 0.8, 0.9: sample sd 0.1
    expect([head10.min, head10.max]).toEqual([0.7, 0.9]);
    expect(head10.values).toEqual([0.8, 0.9, 0.7]);
    expect(scratch10.sd).toBe(0);
  });

  it("rejects empty input, missing group fields and non-finite values, naming the row", () => {
    expect(() => summariseSeeds([], ["method"], "acc")).toThrow(/no rows/);
    expect(() => summariseSeeds([{ method: undefined, acc: 1 }], ["method"], "acc")).toThrow(/row 0 has method = undefined/);
    expect(() => summariseSeeds([{ method: "a", acc: 1 }, { method: "a", acc: NaN }], ["method"], "acc")).toThrow(/row 1 has acc = NaN/);
  });
});
