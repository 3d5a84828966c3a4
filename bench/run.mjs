// `npm run bench`: throughput of tfjs backends (torch = native libtorch kernels, wasm, cpu)
// against PyTorch CPU on the same workloads. Every (row, backend) runs in a fresh process
// (peak RSS per process); rounds are interleaved and the median iteration time is reported.
// Writes build/bench/results.json and build/bench/results.md.
//
//   node bench/run.mjs [--rounds N] [--seconds S] [--rows substring] [--backends torch,torch-resident,wasm,cpu,pytorch] [--no-chapters]
//
// torch-resident is the device-resident libtorch backend on the CPU (torch-cuda's code); with torch in the same run its
// rows get a "× torch" ratio, and a note naming any kernel that took its counted cpu fallback.
//
// Then the chapters' own loops (bench/chapters.mjs): whole-set hymenoptera feature extraction at 224 and one
// epoch of each chapter's heaviest loop, through the helpers, next to PyTorch twins.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { CHAPTER_ROWS, runChapterBench } from "./chapters.mjs";
import { median, runWorker } from "./common.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const outDir = path.join(root, "build", "bench");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const rounds = Number(opt("rounds", 2));
const seconds = Number(opt("seconds", 2.5));
const rowFilter = opt("rows", "");
// pytorch = stock PyTorch (the reference); pytorch-passive = the same with
// OMP_WAIT_POLICY=PASSIVE (idle OpenMP workers sleep instead of spinning; what the torch backend used before
// its thread governor, kept as a second reference).
const backends = opt("backends", "torch,wasm,cpu,pytorch,pytorch-passive").split(",");

const ROWS = [
  "infer mnv2 a0.35@224", "infer mnv2 a1.0@224", "infer mnv2 a0.35@96",
  "train mnv2 a0.35@96", "train mnv2 a1.0@96", "train mnv2 a0.35@224", "train cifar cnn b64", "train dense head 1280→10 b256",
].filter((r) => r.includes(rowFilter));
const BATCH = { "train cifar cnn b64": 64, "train dense head 1280→10 b256": 256 };
const batchOf = (row) => BATCH[row] ?? 16;

// Rows where a backend would take minutes per iteration (issue 11 measured cpu at 0.32 img/s
// training MobileNetV2) or is known not to work: skipped with the reason in the table.
const SKIP = {
  cpu: {
    "infer mnv2 a1.0@224": "pure-JS cpu: ~10 s per batch, skipped",
    "train mnv2 a0.35@96": "pure-JS cpu: ~50 s per step (0.32 img/s in issue 11), skipped",
    "train mnv2 a1.0@96": "pure-JS cpu: minutes per step, skipped",
    "train mnv2 a0.35@224": "pure-JS cpu: minutes per step, skipped",
    "train cifar cnn b64": "pure-JS cpu Conv2DBackpropFilter: minutes per step, skipped",
  },
};

// Compile just the native backend's TS (independent of the rest of the helpers' build state).
function buildTs() {
  const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
  execFileSync(process.execPath, [tsc, "--outDir", path.join(outDir, "lib"), "--module", "node16", "--moduleResolution", "node16",
    "--target", "es2022", "--skipLibCheck", "--types", "node", "--esModuleInterop", "--strict", "--rootDir", path.join(root, "src", "helpers"),
    path.join(root, "src", "helpers", "backend", "native", "index.ts"), path.join(root, "src", "helpers", "backend", "wasm", "trainingKernels.ts"),
    path.join(root, "src", "helpers", "backend", "resident", "index.ts")],
  { stdio: "inherit" });
}

function hasPyTorch() {
  const r = spawnSync("/usr/bin/python3", ["-c", "import torch"], { stdio: "ignore" });
  return r.status === 0;
}

/** Said on the console and in results.md when the PyTorch reference cannot run, instead of empty ratio columns. */
export const NO_PYTORCH =
  "PyTorch is missing (/usr/bin/python3 cannot import torch), so there are no × PyTorch columns. " +
  "Add it with `sudo apt-get install python3-torch python3-pil python3-numpy` (Debian/Ubuntu) and rerun `npm run bench`.";

function measure(backend, row) {
  const cmd = backend.startsWith("pytorch")
    ? ["/usr/bin/python3", [path.join(here, "pytorch_worker.py"), row, String(seconds)]]
    : [process.execPath, [path.join(here, "worker.mjs"), backend, row, String(seconds)]];
  const env = { ...process.env };
  if (backend === "pytorch-passive") env.OMP_WAIT_POLICY = "PASSIVE";
  else if (backend === "pytorch") delete env.OMP_WAIT_POLICY;
  const m = runWorker(cmd[0], cmd[1], { cwd: root, env, timeoutMs: 240_000, torch: backend.startsWith("torch") });
  return m.error ? { backend, row, error: m.error } : m;
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const pyMissing = backends.some((b) => b.startsWith("pytorch")) && !hasPyTorch();
  if (pyMissing) console.log(`\n${NO_PYTORCH}\n`);
  const active = backends.filter((b) => !b.startsWith("pytorch") || !pyMissing);
  if (active.some((b) => b.startsWith("torch"))) execFileSync("bash", [path.join(root, "native", "build.sh")], { stdio: "inherit" });
  buildTs(); // the torch backend and the wasm training kernels
  const results = {}; // row → backend → { times[], rss[], errors[] , detail }
  const t0 = Date.now();
  for (let r = 0; r < rounds; r++) {
    for (const row of ROWS) {
      // Rotate the backend order each round so no backend always runs right after another.
      const order = active.map((_, i) => active[(i + r) % active.length]);
      for (const backend of order) {
        const cell = ((results[row] ??= {})[backend] ??= { times: [], cpu: [], rss: [], errors: [] });
        if (SKIP[backend]?.[row]) {
          cell.skipped = SKIP[backend][row];
          continue;
        }
        if (cell.errors.length && !cell.times.length) continue; // failed once: don't retry
        const m = measure(backend, row);
        if (m.error) cell.errors.push(m.error);
        else {
          cell.times.push(...m.times);
          cell.cpu.push(...(m.cpu ?? []));
          cell.rss.push(m.maxRssMB);
          cell.detail = m.detail;
          if (m.fallbacks?.length) cell.fallbacks = m.fallbacks;
        }
        const last = m.error ? `error: ${m.error}` : `${(batchOf(row) / (median(m.times) / 1000)).toFixed(1)}/s, rss ${m.maxRssMB.toFixed(0)} MB`;
        console.log(`[round ${r + 1}/${rounds}, ${((Date.now() - t0) / 1000).toFixed(0)}s] ${row} · ${backend}: ${last}`);
      }
    }
  }
  const table = [];
  for (const row of ROWS) {
    const py = results[row]?.pytorch;
    const pyRate = py?.times.length ? batchOf(row) / (median(py.times) / 1000) : undefined;
    const pyRss = py?.rss.length ? Math.max(...py.rss) : undefined;
    const pp = results[row]?.["pytorch-passive"];
    const ppRate = pp?.times.length ? batchOf(row) / (median(pp.times) / 1000) : undefined;
    const tc = results[row]?.torch;
    const torchRate = tc?.times.length ? batchOf(row) / (median(tc.times) / 1000) : undefined;
    for (const backend of active) {
      const c = results[row]?.[backend];
      if (!c) continue;
      const rate = c.times.length ? batchOf(row) / (median(c.times) / 1000) : undefined;
      const rss = c.rss.length ? Math.max(...c.rss) : undefined;
      table.push({
        row, backend, rate, medianMs: c.times.length ? median(c.times) : undefined, iterations: c.times.length,
        ratio: rate && pyRate ? rate / pyRate : undefined, ratioPassive: rate && ppRate ? rate / ppRate : undefined,
        ratioTorch: rate && torchRate && backend !== "torch" && backend.startsWith("torch") ? rate / torchRate : undefined,
        cpuMs: c.cpu.length ? median(c.cpu) : undefined, peakRssMB: rss, rssRatio: rss && pyRss ? rss / pyRss : undefined,
        note: c.skipped ?? (c.errors.length && !c.times.length ? `fails: ${c.errors[0]}` : c.fallbacks ? `cpu fallback: ${c.fallbacks.join(", ")}` : undefined),
        detail: c.detail,
      });
    }
  }
  const meta = { date: new Date().toISOString(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadavg: os.loadavg(), rounds, seconds, node: process.version };
  fs.writeFileSync(path.join(outDir, "results.json"), JSON.stringify({ meta, rows: table }, null, 2));
  const fmt = (v, d = 1) => (v === undefined ? "–" : v.toFixed(d));
  const md = [
    `# tfjs backends vs PyTorch CPU (${meta.date})`,
    "",
    `${meta.cpus} cores (${meta.cpuModel}), load average at end ${meta.loadavg.map((l) => l.toFixed(1)).join(" ")}; ${rounds} interleaved rounds, median iteration; batch 16 unless stated.`,
    "",
    ...(pyMissing ? [`**${NO_PYTORCH}**`, ""] : []),
    "| workload | backend | throughput | × PyTorch | × PyTorch (passive) | × torch | median ms/iter | CPU ms/iter | peak RSS MB | RSS × PyTorch | note |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...table.map((t) => `| ${t.row} | ${t.backend} | ${fmt(t.rate)} | ${fmt(t.ratio, 2)} | ${fmt(t.ratioPassive, 2)} | ${fmt(t.ratioTorch, 2)} | ${fmt(t.medianMs, 0)} | ${fmt(t.cpuMs, 0)} | ${fmt(t.peakRssMB, 0)} | ${fmt(t.rssRatio, 2)} | ${t.note ?? ""} |`),
    "",
    "Throughput is img/s (samples/s for the dense head); × PyTorch = throughput ratio to stock PyTorch CPU (torch.set_num_threads(2)),",
    "× PyTorch (passive) = ratio to the same PyTorch with OMP_WAIT_POLICY=PASSIVE (idle OpenMP workers sleep instead of spinning).",
    "× torch = throughput ratio of a resident libtorch backend (torch-resident, torch-cuda) to the torch backend in the same rounds.",
    "CPU ms/iter = user+system CPU time of the process per iteration (all threads): less sensitive to other load than wall time.",
    "",
  ].join("\n");
  fs.writeFileSync(path.join(outDir, "results.md"), md);
  console.log("\n" + md);
  console.log(`wrote ${path.join(outDir, "results.json")} and results.md in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

if (ROWS.length) await main();
if (!args.includes("--no-chapters") && CHAPTER_ROWS.some((r) => r.id.includes(rowFilter))) {
  // The chapter loops run the compiled helpers package (src/helpers/dist).
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
  runChapterBench({ rows: rowFilter, rounds, pytorch: backends.includes("pytorch") && hasPyTorch(), wantedPytorch: backends.includes("pytorch") });
}
