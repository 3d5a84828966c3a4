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

  it("skips the set-up when its stamp is newer than its inputs and the kernelspec points here, and runs it otherwise", () => {
    // A stand-in project: the real launcher, a set-up that only says it ran, and files with chosen times.
    const proj = fs.mkdtempSync(path.join(os.tmpdir(), "tl-launcher-"));
    try {
      const put = (rel: string, text: string, mode = 0o644) => {
        fs.mkdirSync(path.dirname(path.join(proj, rel)), { recursive: true });
        fs.writeFileSync(path.join(proj, rel), text, { mode });
      };
      put("kernel-setup/jupyter.sh", fs.readFileSync(path.join(ROOT, "kernel-setup/jupyter.sh"), "utf8"), 0o755);
      put("kernel-setup/setup.sh", "echo SETUP-RAN\n");
      put("package-lock.json", "{}");
      put("src/helpers/index.ts", "export {};\n");
      put("src/helpers/dist/index.js", "");
      put("native/build.sh", "");
      fs.writeFileSync(path.join(bin, "jupyter-notebook"), "#!/bin/sh\n", { mode: 0o755 });
      const data = path.join(proj, "jupyter-data");
      put("jupyter-data/kernels/tslab/kernel.json", JSON.stringify({ argv: [`${fs.realpathSync(proj)}/node_modules/.bin/tslab`, "kernel"] }));
      const old = new Date(Date.now() - 60_000);
      for (const f of ["kernel-setup/jupyter.sh", "kernel-setup/setup.sh", "package-lock.json", "src/helpers/index.ts", "native/build.sh"]) fs.utimesSync(path.join(proj, f), old, old);
      put("node_modules/.tl-setup-stamp", "");
      const run = () =>
        spawnSync("bash", [path.join(proj, "kernel-setup/jupyter.sh")], {
          env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, JUPYTER_DATA_DIR: data, TL_SKIP_SETUP: "", TL_KERNEL_PREFIX: "" },
          encoding: "utf8",
        });
      const current = run();
      expect(current.stdout).toContain("set-up is current");
      expect(current.stdout).not.toContain("SETUP-RAN");
      expect(current.stdout).toMatch(/^ARGS: notebook /m);
      fs.utimesSync(path.join(proj, "src/helpers/index.ts"), new Date(), new Date(Date.now() + 5_000)); // edited after the set-up
      expect(run().stdout).toContain("SETUP-RAN");
      fs.utimesSync(path.join(proj, "src/helpers/index.ts"), old, old);
      put("jupyter-data/kernels/tslab/kernel.json", JSON.stringify({ argv: ["/another/checkout/node_modules/.bin/tslab"] })); // another checkout's kernel
      expect(run().stdout).toContain("SETUP-RAN");
    } finally {
      fs.rmSync(proj, { recursive: true, force: true });
      fs.rmSync(path.join(bin, "jupyter-notebook"), { force: true });
    }
  });
});
