/** `make jupyter` serves on loopback with token auth, and refuses flags that would expose it. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const bin = fs.mkdtempSync(path.join(os.tmpdir(), "tl-fake-jupyter-"));
// A stand-in `jupyter` that records the command line instead of starting a server.
fs.writeFileSync(path.join(bin, "jupyter"), `#!/bin/sh\necho "ARGS: $*"\n`, { mode: 0o755 });
afterAll(() => fs.rmSync(bin, { recursive: true, force: true }));

const launch = (...args: string[]) =>
  spawnSync("bash", [path.join(ROOT, "kernel-setup/jupyter.sh"), ...args], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TL_SKIP_SETUP: "1" },
    encoding: "utf8",
  });

describe("interactive Jupyter launcher", () => {
  it("listens on 127.0.0.1 only and keeps the default token", () => {
    const r = launch();
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ARGS: notebook --ip=127\.0\.0\.1 --no-browser --notebook-dir=notebooks\s*$/m);
    expect(r.stdout).not.toMatch(/token|password/i);
  });

  for (const flag of ["--ip=0.0.0.0", "--NotebookApp.token=", "--ServerApp.ip=0.0.0.0", "--ServerApp.allow_remote_access=True"]) {
    it(`refuses ${flag} with an explanation`, () => {
      const r = launch(flag);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("listens on 127.0.0.1 with a token");
      expect(r.stdout).not.toContain("ARGS:");
    });
  }
});
