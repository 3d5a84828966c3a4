import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createRequire } from "node:module";
import {
  detectProgressMode,
  inNotebook,
  isHeadless,
  notebookDisplay,
  progress,
  setNotebookDisplay,
  show,
  table,
  trainingProgress,
  type DisplayLike,
  type NotebookDisplay,
} from "../../../src/helpers/display";
import { imageGrid, plotBars } from "../../../src/helpers/plot";
// Internals tested directly (not re-exported from the package index).
import { emit } from "../../../src/helpers/display/show";
import { formatCell } from "../../../src/helpers/display/table";
import { formatDuration } from "../../../src/helpers/display/progress";
// Contract check (types only, checked by tsc): the adapter must fit the training loop's callback interface.
import type { TrainingCallbacks } from "../../../src/helpers/train";

/** A fake tslab display that records every call; `newDisplay()` outputs record into their own list. */
class FakeDisplay implements DisplayLike {
  calls: { kind: string; value: string | Uint8Array }[] = [];
  html(s: string) {
    this.calls.push({ kind: "html", value: s });
  }
  svg(s: string) {
    this.calls.push({ kind: "svg", value: s });
  }
  png(b: Uint8Array) {
    this.calls.push({ kind: "png", value: b });
  }
  text(s: string) {
    this.calls.push({ kind: "text", value: s });
  }
}
function fakeNotebook(): NotebookDisplay & { main: FakeDisplay; updatable: FakeDisplay[] } {
  const nb = {
    main: new FakeDisplay(),
    updatable: [] as FakeDisplay[],
    get display() {
      return nb.main;
    },
    newDisplay() {
      const d = new FakeDisplay();
      nb.updatable.push(d);
      return d;
    },
  };
  return nb;
}
/** A writable that collects output. */
const sink = (isTTY = false) => {
  const out = { text: "", isTTY, write: (s: string) => ((out.text += s), true) };
  return out;
};
/** A controllable clock. */
const clock = () => {
  const c = { t: 0, now: () => c.t };
  return c;
};

afterEach(() => {
  setNotebookDisplay(undefined);
  vi.restoreAllMocks();
});

describe("table", () => {
  const rows = [
    { method: "linear <probe>", acc: 0.8123, time: 12.5, params: 5130 },
    { method: "fine-tune & co", acc: 0.9, time: 125, params: 11_000_000 },
    { method: "none", acc: null, time: 4000 },
  ];

  it("renders HTML with escaped content, right-aligned numbers and formats", () => {
    const t = table(rows, { format: { acc: "percent", time: "seconds" }, title: "Results <1>" });
    const html = t.toHTML();
    expect(html).toContain("<td style=\"text-align:left\">linear &lt;probe&gt;</td>");
    expect(html).toContain("fine-tune &amp; co");
    expect(html).toContain("<caption>Results &lt;1&gt;</caption>");
    expect(html).toContain("<td style=\"text-align:right\">81.2%</td>");
    expect(html).toContain(">2m 05s<");
    expect(html).toContain(">1h 06m<");
    expect(html).not.toContain("<probe>");
  });

  it("toString gives an aligned text table", () => {
    const t = table(rows, { columns: ["method", { key: "acc", header: "accuracy", format: "percent" }, { key: "time", format: "seconds" }] });
    const lines = String(t).split("\n");
    expect(lines).toEqual([
      "method          accuracy    time",
      "--------------  --------  ------",
      "linear <probe>     81.2%  12.5 s",
      "fine-tune & co     90.0%  2m 05s",
      "none                   -  1h 06m",
    ]);
  });

  it("formats cells", () => {
    expect(formatCell(0.5, "percent", 0)).toBe("50%");
    expect(formatCell(3.14159)).toBe("3.142");
    expect(formatCell(1234.5678)).toBe("1234.6");
    expect(formatCell(42)).toBe("42");
    // small numbers keep their significant digits (a learning rate of 2e-5 is not "0.000")
    expect([2e-5, 1.5e-4, -3.25e-7, 0.00123, 0.005, 0.0123].map((v) => formatCell(v))).toEqual(["2e-5", "1.5e-4", "-3.25e-7", "0.00123", "0.005", "0.012"]);
    expect(formatCell(2e-5, "auto", 3)).toBe("0.000"); // explicit digits win
    expect(formatCell(4.2, "seconds")).toBe("4.20 s");
    expect(formatCell(undefined)).toBe("-");
    expect(formatCell(2, (v) => `#${v}`)).toBe("#2");
    expect(() => table({} as never)).toThrow(/array of row objects/);
  });
});

describe("show", () => {
  it("in a notebook: tables as HTML, charts as PNG (or SVG on request), grids as PNG", async () => {
    const nb = fakeNotebook();
    setNotebookDisplay(nb);
    expect(inNotebook()).toBe(true);
    await show(table([{ a: 1 }]));
    const chart = plotBars([{ label: "x", value: 1 }]);
    await show(chart); // a promise of a chart is fine
    await show(chart, { format: "svg" });
    await (await chart).show();
    await show(plotBars([{ label: "x", value: 1 }], { format: "svg" })); // svg chart: svg by default...
    await show(plotBars([{ label: "x", value: 1 }], { format: "svg" }), { format: "png" }); // ...png on request
    await show(imageGrid([{ data: new Uint8Array(12), width: 2, height: 2 }]));
    await show("plain words");
    expect(nb.main.calls.map((c) => c.kind)).toEqual(["html", "png", "svg", "png", "svg", "png", "png", "text"]);
    const png = nb.main.calls[1].value as Uint8Array;
    expect([...png.slice(1, 4)].map((b) => String.fromCharCode(b)).join("")).toBe("PNG");
    expect(nb.main.calls[2].value).toMatch(/^<svg/);
  });

  it("refuses a format the value does not have", async () => {
    setNotebookDisplay(fakeNotebook());
    await expect(show(table([{ a: 1 }]), { format: "png" })).rejects.toThrow(/no png rendering \(it has: html, text\)/);
    expect(() => emit(new FakeDisplay(), { text: "t" }, "svg")).toThrow(/no svg rendering/);
  });

  it("outside a notebook: prints the text summary and writes images to a file", async () => {
    setNotebookDisplay(null);
    expect(inNotebook()).toBe(false);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tl-show-"));
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    await show(plotBars([{ label: "x", value: 1 }], { title: "One bar" }), { outDir: dir });
    await show(table([{ a: 1, b: "z" }]), { outDir: dir });
    const printed = write.mock.calls.map((c) => String(c[0])).join("");
    write.mockRestore();
    const files = fs.readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^bars-[0-9a-f]{10}\.png$/);
    expect(printed).toContain("[chart] One bar");
    expect(printed).toContain(path.join(dir, files[0]));
    expect(printed).toContain("a  b\n-  -\n1  z");
    fs.rmSync(dir, { recursive: true });
  });
});

describe("kernel detection", () => {
  it("finds a loaded tslab whose jupyter module has a live output channel", () => {
    // A stand-in tslab install: dist/jupyter.js (the kernel's module state) and dist/public.js (the display API).
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "tl-fake-tslab-"));
    const dist = path.join(root, "node_modules", "tslab", "dist");
    fs.mkdirSync(dist, { recursive: true });
    fs.writeFileSync(path.join(dist, "jupyter.js"), "exports.lastWriteDisplayData = null;");
    fs.writeFileSync(path.join(dist, "public.js"), "exports.display = { kind: 'fake' }; exports.newDisplay = () => ({});");
    const req = createRequire(__filename);
    const jupyter = req(path.join(dist, "jupyter.js"));
    try {
      expect(notebookDisplay()).toBeNull(); // loaded, but no cell is executing: not a kernel
      jupyter.lastWriteDisplayData = () => undefined;
      expect((notebookDisplay()?.display as unknown as { kind: string }).kind).toBe("fake");
      setNotebookDisplay(null);
      expect(notebookDisplay()).toBeNull(); // an override wins
    } finally {
      delete req.cache[path.join(dist, "jupyter.js")];
      delete req.cache[path.join(dist, "public.js")];
      fs.rmSync(root, { recursive: true });
    }
  });

  it("reads TL_HEADLESS and picks the progress mode", () => {
    expect(isHeadless({ TL_HEADLESS: "1" })).toBe(true);
    expect(isHeadless({})).toBe(false);
    setNotebookDisplay(fakeNotebook());
    expect(detectProgressMode(sink(), { TL_HEADLESS: "1" })).toBe("lines");
    expect(detectProgressMode(sink(), {})).toBe("notebook");
    setNotebookDisplay(null);
    expect(detectProgressMode(sink(true), {})).toBe("tty");
    expect(detectProgressMode(sink(false), {})).toBe("lines");
  });
});

describe("progress", () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.TL_HEADLESS;
    process.env.TL_HEADLESS = "1";
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TL_HEADLESS;
    else process.env.TL_HEADLESS = saved;
  });

  it("headless: a few compact lines with ETA and metrics, no carriage returns", () => {
    const out = sink(true); // even on a TTY, TL_HEADLESS wins
    const c = clock();
    const p = progress({ total: 100, label: "extract", stream: out, now: c.now, maxLines: 4 });
    expect(p.mode).toBe("lines");
    for (let i = 0; i < 100; i++) {
      c.t += 100;
      p.tick(1, { loss: 1 / (i + 1), note: "ignored" });
    }
    p.done();
    p.done(); // idempotent
    const lines = out.text.trimEnd().split("\n");
    expect(out.text).not.toContain("\r");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe("extract  25/100  25% | 2.5s elapsed, ETA 7.5s | loss 0.0400");
    expect(lines[3]).toBe("extract 100/100 100% | 10.0s | loss 0.0100");
  });

  it("headless: a stopped run says so", () => {
    const out = sink();
    const p = progress({ total: 10, stream: out, now: clock().now });
    p.tick(3);
    p.done();
    expect(out.text.trimEnd().split("\n").pop()).toMatch(/3\/10 .* \(stopped\)$/);
  });

  it("notebook: one display updated in place, throttled, ending with the final state", () => {
    const d = new FakeDisplay();
    const c = clock();
    const p = progress({ total: 10, label: "train <x>", display: d, now: c.now, throttleMs: 1000 });
    expect(p.mode).toBe("notebook");
    for (let i = 0; i < 10; i++) {
      c.t += 300;
      p.tick(1, { acc: 0.5 });
    }
    p.done();
    // initial + every >=1000 ms (at 1200, 2400) + the 10/10 tick + done
    expect(d.calls.length).toBeLessThan(7);
    expect(d.calls.every((x) => x.kind === "html")).toBe(true);
    const last = d.calls.at(-1)!.value as string;
    expect(last).toContain('<progress value="10" max="10"');
    expect(last).toContain("done in 3.0s");
    expect(last).toContain("train &lt;x&gt;");
    expect(last).toContain("acc 0.5000");
  });

  it("terminal: drives a cli-progress bar", () => {
    delete process.env.TL_HEADLESS;
    setNotebookDisplay(null);
    const out = sink(true);
    const p = progress({ total: 5, label: "batches", stream: out });
    expect(p.mode).toBe("tty");
    for (let i = 0; i < 5; i++) p.tick(1, { loss: 0.5 });
    p.done();
    expect(out.text).toContain("batches [");
    expect(out.text).toContain("5/5");
  });

  it("validates total", () => {
    expect(() => progress({ total: NaN })).toThrow(/total must be a finite number/);
    expect(formatDuration(125_000)).toBe("2m05s");
    expect(formatDuration(3_725_000)).toBe("1h02m");
  });
});

describe("trainingProgress", () => {
  // Drive the callbacks exactly as the course's training loop (train/fit.ts) does: info objects,
  // 0-based epochs and batches, onEpochEnd(logs, history).
  function run(cb: TrainingCallbacks, epochs: number, batches: number, c: { t: number }, startEpoch = 0) {
    const history = { epochs: [], stoppedEarly: false, startEpoch };
    void cb.onTrainBegin?.({ epochs, startEpoch, numBatches: batches });
    for (let epoch = startEpoch; epoch < epochs; epoch++) {
      for (let batch = 0; batch < batches; batch++) {
        c.t += 50;
        void cb.onBatchEnd?.({ epoch, batch, numBatches: batches, loss: 1 / (epoch + 1), lr: 0.001 });
      }
      const logs = { epoch, loss: 1 / (epoch + 1), acc: 0.5 + epoch / 10, val_loss: 1.1 / (epoch + 1), val_acc: 0.45 + epoch / 10, lr: 0.001, seconds: 1 };
      void cb.onEpochEnd?.(logs, history);
    }
    void cb.onTrainEnd?.(history);
  }

  it("headless: exactly one line per epoch with the epoch's logs, sizes taken from onTrainBegin", () => {
    const out = sink();
    const c = clock();
    run(trainingProgress({ stream: out, now: c.now, mode: "lines" }), 3, 20, c);
    expect(out.text.trimEnd().split("\n")).toEqual([
      "epoch 1/3  33% | 1.0s elapsed, ETA 2.0s | loss 1  lr 1.00e-3  acc 0.5000  val_loss 1.1000  val_acc 0.4500",
      "epoch 2/3  66% | 2.0s elapsed, ETA 1.0s | loss 0.5000  lr 1.00e-3  acc 0.6000  val_loss 0.5500  val_acc 0.5500",
      "epoch 3/3 100% | 3.0s | loss 0.3333  lr 1.00e-3  acc 0.7000  val_loss 0.3667  val_acc 0.6500",
    ]);
  });

  it("headless: a resumed run counts from startEpoch and its ETA uses only this run's pace", () => {
    const out = sink();
    const c = clock();
    run(trainingProgress({ stream: out, now: c.now, mode: "lines" }), 4, 20, c, 2);
    const lines = out.text.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^epoch 3\/4  75% \| 1\.0s elapsed, ETA 1\.0s/);
  });

  it("headless: an early stop is reported", () => {
    const out = sink();
    const cb = trainingProgress({ epochs: 5, stream: out, mode: "lines", now: clock().now });
    cb.onEpochEnd({ epoch: 0, loss: 1 });
    cb.onTrainEnd();
    expect(out.text.trimEnd().split("\n").pop()).toMatch(/^epoch 1\/5 .*\(stopped early\)$/);
  });

  it("notebook: a single in-place display with epoch and batch bars", () => {
    const nb = fakeNotebook();
    setNotebookDisplay(nb);
    const c = clock();
    run(trainingProgress({ now: c.now, throttleMs: 0 }), 2, 10, c);
    expect(nb.updatable).toHaveLength(1);
    expect(nb.main.calls).toHaveLength(0);
    const html = nb.updatable[0].calls.map((x) => x.value as string);
    expect(html.some((h) => h.includes('<progress value="5" max="10"'))).toBe(true); // a batch bar mid-epoch
    expect(html.at(-1)).toContain('<progress value="2" max="2"');
    expect(html.at(-1)).toContain("done in");
    expect(html.at(-1)).toContain("val_acc 0.5500");
    expect(html.at(-1)).not.toContain("batch");
  });

  it("terminal: a cli-progress bar per epoch plus the epoch's metrics", () => {
    const out = sink(true);
    run(trainingProgress({ stream: out, mode: "tty" }), 2, 4, { t: 0 });
    expect(out.text).toContain("epoch 1/2 [");
    expect(out.text).toContain("epoch 2/2 [");
    expect(out.text).toContain("val_acc 0.5500");
  });

  it("also takes Keras-style (index, logs) calls, and says when the epoch count is unknown", () => {
    const out = sink();
    const cb = trainingProgress({ epochs: 2, stream: out, mode: "lines", now: clock().now });
    cb.onBatchEnd(7, { loss: 2 });
    cb.onEpochEnd(41, { loss: 1 }); // odd indices: the count still says 1/2
    expect(out.text).toMatch(/^epoch 1\/2 .*loss 1$/m);
    expect(() => trainingProgress({ mode: "lines", stream: sink() }).onEpochEnd({ loss: 1 })).toThrow(/number of epochs is unknown/);
  });
});
