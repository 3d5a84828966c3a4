/** Messages a learner reads in a notebook: a missing image is only missing; interrupted work prints one line. */
import * as path from "node:path";
import * as os from "node:os";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../../src/helpers/data";
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
});
