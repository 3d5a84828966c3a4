/**
 * Kernel > Interrupt stops the long helpers promptly, even on a loop of in-memory batches (which, without the
 * event-loop yields in display/interrupt.ts, never lets a SIGINT handler run). A child process stands in for the
 * tslab kernel (its own SIGINT listener plays tslab's executor.interrupt) and gets a real SIGINT.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";

const ROOT = path.resolve(__dirname, "../..");
const DIST = path.join(ROOT, "src/helpers/dist");
const CHILD = path.join(__dirname, "fixtures/interrupt-child.js");

// The child loads the compiled helpers: `make test` builds them first (set-up), as the notebook tests need too.
beforeAll(() => {
  if (!fs.existsSync(path.join(DIST, "index.js"))) throw new Error("build the helpers first: npx tsc -p src/helpers/tsconfig.json (make test does)");
});

interface ChildReport {
  backend: string;
  stoppedAt: number;
  signalAt: number;
  signalSeen: boolean;
  error: { name: string; message: string; stack: string } | null;
  cellEndedByTslab: boolean;
  batchAfterStop: boolean;
}

/** Start the child, send SIGINT `afterMs` after it is ready; resolve with its report and the latency from kill to stop. */
function interruptChild(batch: number, kind: string, afterMs = 1500, backend?: string): Promise<{ report: ChildReport; latencyMs: number }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, TL_BACKEND: backend ?? "" };
    const child = spawn(process.execPath, [CHILD, DIST, String(batch), kind], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    let killedAt = 0;
    child.stdout.on("data", (d) => {
      out += d;
      if (!killedAt && out.includes("ready\n")) {
        setTimeout(() => {
          killedAt = Date.now();
          child.kill("SIGINT");
        }, afterMs);
      }
    });
    child.stderr.on("data", (d) => (err += d));
    // A starved event loop never runs the SIGINT handler: fail clearly and leave no process behind.
    const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("exit", (code, signal) => {
      clearTimeout(guard);
      if (signal === "SIGKILL") return reject(new Error(`the child did not stop within 30 s of SIGINT: the interrupt never reached the work\n${err}`));
      const last = out.trim().split("\n").pop() ?? "";
      try {
        const report = JSON.parse(last) as ChildReport;
        resolve({ report, latencyMs: report.stoppedAt - killedAt });
      } catch {
        reject(new Error(`child exited ${code} without a report:\n${out}\n${err}`));
      }
    });
  });
}

describe("Kernel > Interrupt reaches the long helpers", () => {
  for (const batch of [8, 32]) {
    it(`trainModel over in-memory batches of ${batch} stops within a second with one readable line`, async () => {
      const { report, latencyMs } = await interruptChild(batch, "train");
      console.log(`interrupt latency, training batch ${batch}: ${latencyMs} ms (kill -> stopped; machine shared)`);
      expect(report.signalSeen).toBe(true);
      expect(report.error?.name).toBe("Interrupted");
      expect(report.error?.message).toMatch(/^training stopped at epoch 1\/1000, batch \d+\/\d+: the model holds the weights after batch \d+ of epoch 1 \(0 complete epochs\); re-running this cell trains these weights/);
      expect(report.error?.stack.split("\n")).toHaveLength(1); // no frames: tslab prints the stack
      expect(report.cellEndedByTslab).toBe(false); // the helper ended the cell, not tslab's "Interrupted asynchronously"
      expect(report.batchAfterStop).toBe(false);
      expect(latencyMs).toBeLessThan(1000);
    }, 60_000);
  }

  it("extractFeatures stops within a second and says nothing was cached", async () => {
    const { report, latencyMs } = await interruptChild(8, "features");
    console.log(`interrupt latency, feature extraction batch 8: ${latencyMs} ms (kill -> stopped; machine shared)`);
    expect(report.error?.message).toMatch(/^feature extraction stopped at batch \d+\/512 \(nothing cached/);
    expect(report.batchAfterStop).toBe(false);
    expect(latencyMs).toBeLessThan(1000);
  }, 60_000);

  // The native addon is optional (libtorch); wasm always exists.
  const torchBuilt = fs.existsSync(path.join(ROOT, "native", "build")) && fs.readdirSync(path.join(ROOT, "native", "build"), { recursive: true }).some((f) => String(f).endsWith(".node"));
  for (const backend of ["wasm", ...(torchBuilt ? ["torch"] : [])]) {
    it(`trainModel on the ${backend} backend stops within a second too`, async () => {
      const { report, latencyMs } = await interruptChild(32, "train", 1500, backend);
      console.log(`interrupt latency, training batch 32 on ${report.backend}: ${latencyMs} ms (kill -> stopped; machine shared)`);
      expect(report.backend).toBe(backend);
      expect(report.error?.name).toBe("Interrupted");
      expect(report.batchAfterStop).toBe(false);
      expect(latencyMs).toBeLessThan(1000);
    }, 60_000);
  }

  it("with no helper work running, the interrupt goes to the kernel's own handler", async () => {
    const { report } = await interruptChild(8, "idle", 300);
    expect(report.cellEndedByTslab).toBe(true);
    expect(report.error).toBeNull();
  }, 60_000);
});
