/**
 * A learner's Jupyter session, in a real browser: Debian's Chromium driven by puppeteer-core against the server
 * `make jupyter` starts (kernel-setup/jupyter.sh on a free loopback port, serving a copy of notebooks/).
 *  - 00-setup: Run All; every code cell finishes without an error output and every image loads.
 *  - A training cell that would run for minutes: Kernel > Interrupt after a few seconds; the kernel is idle within
 *    5 s, the cell ends with one readable line, no progress update arrives afterwards, and the next cell answers.
 *  - Opening and saving an unchanged notebook leaves the file byte-identical.
 * Screenshots go to build/browser/. Skipped (with the reason) when Chromium or Notebook is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "puppeteer-core";
import { launchChromium, missingForBrowserTests } from "./chromium";

// The page's globals, for the functions page.evaluate runs in the browser (this file is compiled without the DOM lib).
declare const window: any;
declare const document: { querySelectorAll(sel: string): ArrayLike<any> & Iterable<any> };

const ROOT = path.resolve(__dirname, "../..");
const SHOTS = path.join(ROOT, "build", "browser");
// Inside the checkout (build/ is ignored) so the kernel resolves @course/helpers from the notebooks' folder.
const NB_DIR = path.join(SHOTS, `notebooks-${process.pid}`);
const missing = missingForBrowserTests([{ command: "jupyter-notebook", apt: "jupyter-notebook" }]);

let server: ChildProcess | undefined;
let serverLog = "";
let base = "";
let browser: Browser | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false> | T | undefined | false, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n--- server log (tail) ---\n${serverLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Open a notebook and wait until its kernel is connected and idle. */
async function openNotebook(name: string): Promise<Page> {
  const page = await browser!.newPage();
  await page.setViewport({ width: 1280, height: 1000 });
  await page.goto(`${base}/notebooks/${name}`, { waitUntil: "domcontentloaded" });
  await waitFor(`the kernel of ${name}`, 60_000, () =>
    page.evaluate(() => {
      const J = (window as any).Jupyter;
      return !!J?.notebook?.kernel?.is_connected?.() && J.notebook.kernel_busy === false && !!J.notebook.metadata?.language_info?.mimetype;
    }),
  );
  // Record each cell's execute_reply status: tslab reports errors as stderr text with status "error"
  // (a warning on stderr is not an error).
  await page.evaluate(() => {
    const J = (window as any).Jupyter;
    const proto = Object.getPrototypeOf(J.notebook.get_cells().find((c: any) => c.cell_type === "code"));
    if (proto.__tlWrapped) return;
    const orig = proto._handle_execute_reply;
    proto._handle_execute_reply = function (msg: any) {
      this.__tlStatus = msg?.content?.status;
      return orig.call(this, msg);
    };
    proto.__tlWrapped = true;
  });
  return page;
}

/** Per code cell: prompt ("*" while running), reply status, its error outputs (stderr of a failed cell), text. */
function cellStates(page: Page) {
  return page.evaluate(() => {
    const J = (window as any).Jupyter;
    return (J.notebook.get_cells() as any[]).filter((c) => c.cell_type === "code").map((c) => ({
      prompt: c.input_prompt_number as number | string | undefined,
      status: c.__tlStatus as string | undefined,
      errors: (c.output_area.outputs as any[])
        .filter((o) => o.output_type === "error" || (c.__tlStatus === "error" && o.output_type === "stream" && o.name === "stderr"))
        .map((o) => o.text ?? `${o.ename}: ${o.evalue}`),
      text: (c.output_area.outputs as any[]).map((o) => o.text ?? o.data?.["text/plain"] ?? "").join(""),
    }));
  });
}

function executeCell(page: Page, index: number) {
  return page.evaluate((i) => {
    const J = (window as any).Jupyter;
    const cells = J.notebook.get_cells().filter((c: any) => c.cell_type === "code");
    cells[i].execute();
  }, index);
}

/** Notebook scrolls inside #site, so a full-page shot needs a viewport as tall as the notebook. */
async function screenshotWhole(page: Page, name: string) {
  const h = await page.evaluate(() => (window as any).document.querySelector("#notebook")?.scrollHeight ?? 1000);
  await page.setViewport({ width: 1280, height: Math.min(12000, Math.max(1000, Math.ceil(h) + 200)) });
  await page.screenshot({ path: path.join(SHOTS, name) });
}

const kernelIdle = (page: Page) => page.evaluate(() => (window as any).Jupyter.notebook.kernel_busy === false);

describe.skipIf(missing.length > 0)("Jupyter Notebook in Chromium", () => {
  beforeAll(async () => {
    fs.rmSync(NB_DIR, { recursive: true, force: true });
    fs.mkdirSync(NB_DIR, { recursive: true });
    for (const f of fs.readdirSync(path.join(ROOT, "notebooks")).filter((f) => f.endsWith(".ipynb"))) {
      fs.copyFileSync(path.join(ROOT, "notebooks", f), path.join(NB_DIR, f));
    }
    fs.writeFileSync(path.join(NB_DIR, "interrupt-training.ipynb"), JSON.stringify(interruptNotebook(), null, 1) + "\n");
    const port = await freePort();
    server = spawn("bash", [path.join(ROOT, "kernel-setup/jupyter.sh"), `--port=${port}`, "--port-retries=0", `--notebook-dir=${NB_DIR}`], {
      cwd: ROOT,
      // Results and caches of this session stay out of build/ of the headless runs.
      env: { ...process.env, TL_BUILD_DIR: path.join(NB_DIR, "build"), JUPYTER_RUNTIME_DIR: path.join(NB_DIR, "runtime") },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    server.stdout!.on("data", (d) => (serverLog += d));
    server.stderr!.on("data", (d) => (serverLog += d));
    const url = await waitFor("the Jupyter server's URL with its token", 120_000, () => serverLog.match(/http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/)?.[0]);
    const token = new URL(url).searchParams.get("token")!;
    base = `http://127.0.0.1:${port}`;
    browser = await launchChromium();
    // Log in once with the token (sets the session cookie); later pages need no token in the URL.
    const page = await browser.newPage();
    await page.goto(`${base}/tree?token=${token}`, { waitUntil: "domcontentloaded" });
    await page.close();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (server?.pid) {
      try {
        process.kill(-server.pid, "SIGTERM"); // the server and its kernels
      } catch {
        // already gone
      }
    }
    fs.rmSync(NB_DIR, { recursive: true, force: true });
  });

  it("00-setup: Run All finishes every code cell without an error output, and every image loads", async () => {
    const page = await openNotebook("00-setup.ipynb");
    await page.evaluate(() => (window as any).Jupyter.notebook.execute_all_cells());
    const states = await waitFor("every code cell of 00-setup to finish", 240_000, async () => {
      const s = await cellStates(page);
      return s.every((c) => typeof c.prompt === "number") && (await kernelIdle(page)) ? s : undefined;
    }, 500);
    await screenshotWhole(page, "00-setup.png");
    expect(states.flatMap((c, i) => c.errors.map((e) => `cell ${i + 1}: ${e}`))).toEqual([]);
    expect(states.map((c) => c.status)).toEqual(states.map(() => "ok"));
    const images = await page.evaluate(() =>
      Array.from(document.querySelectorAll(".output_area img"), (img: { complete: boolean; naturalWidth: number }) => ({ complete: img.complete, width: img.naturalWidth })),
    );
    expect(images.length).toBeGreaterThanOrEqual(3); // two image grids and a chart
    expect(images.filter((i) => !i.complete || i.width === 0)).toEqual([]);
    await page.close();
  }, 300_000);

  it("Kernel > Interrupt stops a training cell: idle within 5 s, one readable line, no later progress, the next cell answers", async () => {
    const page = await openNotebook("interrupt-training.ipynb");
    await executeCell(page, 0);
    await waitFor("the set-up cell", 60_000, async () => (await cellStates(page))[0].prompt !== "*" && (await kernelIdle(page)));
    expect((await cellStates(page))[0].errors).toEqual([]);
    await executeCell(page, 1);
    const progressHtml = () => page.evaluate(() => document.querySelectorAll(".code_cell")[1]?.querySelector(".output_area progress")?.parentElement?.parentElement?.innerHTML ?? "");
    await waitFor("the training progress bar", 60_000, async () => (await progressHtml()).includes("<progress"));
    await new Promise((r) => setTimeout(r, 3000));
    const t0 = Date.now();
    await page.evaluate(() => (window as any).Jupyter.notebook.kernel.interrupt());
    await waitFor("the kernel to be idle after the interrupt", 5_000, async () => (await cellStates(page))[1].prompt !== "*" && (await kernelIdle(page)), 50);
    const latencyMs = Date.now() - t0;
    console.log(`browser: Kernel > Interrupt -> kernel idle in ${latencyMs} ms (machine shared)`);
    const cell = (await cellStates(page))[1];
    expect(cell.status).toBe("error");
    const lines = cell.errors.join("").trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Interrupted: training stopped at epoch 1\/400, batch \d+\/\d+: the model holds the weights after batch \d+/);
    const finalBar = await progressHtml();
    await new Promise((r) => setTimeout(r, 2000));
    expect(await progressHtml(), "no progress update after the interrupt").toBe(finalBar);
    await executeCell(page, 2);
    await waitFor("the next cell's answer", 5_000, async () => (await cellStates(page))[2].text.includes("answer 42"), 50);
    await screenshotWhole(page, "interrupt.png");
    await page.close();
  }, 180_000);

  for (const name of ["03-fine-tuning.ipynb", "05-transfer-learning-basics.ipynb"]) {
    it(`opening and saving an unchanged ${name} leaves the file byte-identical`, async () => {
      const file = path.join(NB_DIR, name);
      const before = fs.readFileSync(file);
      const page = await openNotebook(name);
      const dirty = await page.evaluate(() => (window as any).Jupyter.notebook.dirty);
      const mtime = fs.statSync(file).mtimeMs;
      await page.evaluate(() => (window as any).Jupyter.notebook.save_notebook());
      await waitFor(`${name} to be saved`, 20_000, () => fs.statSync(file).mtimeMs !== mtime);
      await page.screenshot({ path: path.join(SHOTS, `saved-${name.replace(/\.ipynb$/, "")}.png`) });
      expect(dirty, "Notebook marked the notebook as changed on opening").toBe(false);
      expect(fs.readFileSync(file).equals(before), "the saved file differs from the committed one").toBe(true);
      await page.close();
    }, 120_000);
  }
});

/** A notebook whose second cell trains for minutes on in-memory batches (the case that starved the event loop). */
function interruptNotebook() {
  const code = (id: string, src: string) => ({ cell_type: "code", execution_count: null, id, metadata: {}, outputs: [], source: src });
  return {
    cells: [
      code("setup", [
        'import * as tl from "@course/helpers";',
        'import * as tf from "@tensorflow/tfjs";',
        "const n = 4096, d = 256;",
        "const set = { features: new Float32Array(n * d).map((_, i) => Math.sin(i)), labels: new Int32Array(n).map((_, i) => i % 4), featureShape: [d], labelShape: [] as number[], numSamples: n };",
        "const model = tl.buildHeadModel([d], { numClasses: 4, hiddenUnits: 512 });",
      ].join("\n")),
      code("train", "await tl.trainModel(model, tl.featureBatchStream(set, { batchSize: 8, shuffle: true, seed: 1 }), { epochs: 400 });"),
      code("answer", 'console.log("answer", 6 * 7);'),
    ],
    metadata: {
      kernelspec: { display_name: "TypeScript", language: "typescript", name: "tslab" },
      language_info: { file_extension: ".ts", name: "typescript" },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
}
