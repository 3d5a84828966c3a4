import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { beginRun, readResults, resultsPath } from "../../../src/helpers/results/notebookRun";
import { profile, profileLabel } from "../../../src/helpers/config";

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tl-results-"));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe("results contract", () => {
  it("publishes the documented JSON shape and reads it back", () => {
    const dir = tmp();
    const run = beginRun("03-fine-tuning", "cpu", dir);
    const written = run.publish({ finetune_val_acc: 0.93 }, [{ name: "finetune", epochs: 3 }]);
    const file = resultsPath("03-fine-tuning", dir);
    expect(file).toBe(path.join(dir, "results", "03-fine-tuning.json"));
    const read = readResults("03-fine-tuning", dir);
    expect(read).toEqual(written);
    expect(Object.keys(read).sort()).toEqual(["backend", "metrics", "notebook", "profile", "runs", "started", "wall_s"]);
    expect(read.metrics.finetune_val_acc).toBe(0.93);
    expect(read.metrics.wall_s).toBe(read.wall_s);
    expect(read.wall_s).toBeGreaterThanOrEqual(0);
    expect(new Date(read.started).getTime()).not.toBeNaN();
    expect(fs.readdirSync(path.dirname(file))).toEqual(["03-fine-tuning.json"]); // no temp files left behind
  });

  it("refuses non-finite metrics and odd notebook names", () => {
    const dir = tmp();
    expect(() => beginRun("03-fine-tuning", "cpu", dir).publish({ acc: Number.NaN })).toThrow(/'acc' is NaN/);
    expect(() => beginRun("../escape", "cpu", dir)).toThrow(/plain file stem/);
  });

  it("says how to produce missing results", () => {
    expect(() => readResults("99-missing", tmp())).toThrow(/make course NB=99-missing/);
  });

  it("rejects an unknown profile with the fix in the message", () => {
    expect(() => profile({ TL_PROFILE: "fast" })).toThrow(/Unknown profile 'fast'.*quick, full/);
    expect(profile({})).toBe("quick");
    expect(profile({ TL_PROFILE: "FULL" })).toBe("full");
  });

  it("full-rehearsal runs the full code paths and is published under its own label", () => {
    expect(profile({ TL_PROFILE: "full-rehearsal" })).toBe("full");
    expect(profileLabel({ TL_PROFILE: "full-rehearsal" })).toBe("full-rehearsal");
    expect(profileLabel({ TL_PROFILE: "full" })).toBe("full");
    const saved = process.env.TL_PROFILE;
    process.env.TL_PROFILE = "full-rehearsal";
    try {
      const dir = tmp();
      const run = beginRun("03-fine-tuning", "cpu", dir);
      expect(run.profile).toBe("full"); // what notebooks branch on
      expect(run.publish({ acc: 0.5 }).profile).toBe("full-rehearsal");
      expect(readResults("03-fine-tuning", dir).profile).toBe("full-rehearsal");
    } finally {
      if (saved === undefined) delete process.env.TL_PROFILE;
      else process.env.TL_PROFILE = saved;
    }
  });
});
