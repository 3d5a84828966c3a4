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

const asRoot = process.getuid?.() === 0;
const rootFlag = asRoot ? " --allow-root" : "";

describe("interactive Jupyter launcher", () => {
  it("listens on 127.0.0.1 only and keeps the default token", () => {
    const r = launch();
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^ARGS: notebook --ip=127\\.0\\.0\\.1 --no-browser${rootFlag} --notebook-dir=notebooks\\s*$`, "m"));
    expect(r.stdout).not.toMatch(/token|password/i);
  });

  it(`adds --allow-root only when run as root, and says so (this run: uid ${process.getuid?.()})`, () => {
    const r = launch();
    expect(r.stdout.includes("--allow-root")).toBe(asRoot);
    expect(r.stdout.includes("running as root: adding --allow-root")).toBe(asRoot);
  });

  it("passes extra options through (make jupyter ARGS=...), and a user's --notebook-dir replaces the default one", () => {
    const r = launch("--port", "9999", "--notebook-dir=/tmp/copy");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ARGS: notebook .*--port 9999 --notebook-dir=\/tmp\/copy\s*$/m);
    expect(r.stdout.match(/--notebook-dir/g)).toHaveLength(1);
    const m = spawnSync("make", ["-s", "-C", ROOT, "jupyter", "ARGS=--port 9998"], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TL_SKIP_SETUP: "1" },
      encoding: "utf8",
    });
    expect(m.stdout).toMatch(/^ARGS: notebook .*--notebook-dir=notebooks --port 9998\s*$/m);
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
