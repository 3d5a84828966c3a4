/** Messages a learner reads in a notebook: a missing image is only missing; interrupted work prints one line. */
import * as path from "node:path";
import * as os from "node:os";
import { inspect } from "node:util";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../../src/helpers/pipeline";
import { InterruptedError, beginWork, requestInterrupt, activeWork } from "../../src/helpers/display";

describe("learner-facing messages", () => {
  it("decodeImage of a missing path says only that the file is missing", async () => {
    const p = path.join(os.tmpdir(), `tl-no-such-image-${process.pid}.jpg`);
    const err = await decodeImage(p).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(`Image file not found: ${p}`);
    expect((err as NodeJS.ErrnoException).code).toBe("ENOENT");
  });

  it("an InterruptedError prints as one line, without brackets or frames (what tslab shows)", () => {
    const e = new InterruptedError("training stopped at epoch 2/5, batch 3/10: ...");
    expect(inspect(e)).toBe("Interrupted: training stopped at epoch 2/5, batch 3/10: ...");
    expect(e.stack).toBe(inspect(e));
  });

  it("requestInterrupt stops registered work at its next checkpoint (the step after), and only that work", async () => {
    const w = beginWork("toy loop");
    let steps = 0;
    const run = (async () => {
      for (;;) {
        steps++;
        await w.checkpoint(() => `at step ${steps}`);
        if (steps === 3) expect(requestInterrupt()).toBe(1);
      }
    })();
    await expect(run).rejects.toThrow(/^toy loop stopped at step 4\.$/);
    w.end();
    expect(activeWork()).toEqual([]);
    const later = beginWork("later");
    await expect(later.checkpoint()).resolves.toBeUndefined(); // an old interrupt does not leak into new work
    later.end();
  });

  it("in a kernel, errors show the message and the cell's frames without tslab's or Node's internals", () => {
    // In a child: the format is process-wide (installed when the helpers load in a tslab kernel).
    const script = `
      require(${JSON.stringify(path.resolve(__dirname, "../../src/helpers/dist/display/errors.js"))}).installCellErrorFormat();
      const vm = require("node:vm");
      try { vm.runInThisContext("(function () {\\n  [1].map(() => { throw new Error('boom'); });\\n})()", { breakOnSigint: true }); }
      catch (e) { console.log(e.stack); }`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    const lines = r.stdout.trim().split("\n");
    expect(lines).toContain("Error: boom"); // (after the source line Node shows for errors thrown by a vm script)
    expect(lines).toContain("    at the cell");
    expect(r.stdout.slice(r.stdout.indexOf("Error: boom"))).not.toMatch(/evalmachine|node:vm|sigintHandlersWrap/);
  });
});
