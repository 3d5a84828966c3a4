// One benchmark measurement in a fresh process (so peak RSS is per row and backend):
//   node bench/worker.mjs <backend> <row id> <seconds>  → one JSON line on stdout.
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const [backend, rowId, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg ?? 3);
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function emit(obj) {
  process.stdout.write(JSON.stringify({ backend, row: rowId, maxRssMB: process.resourceUsage().maxRSS / 1024, ...obj }) + "\n");
}

try {
  const tf = await import("@tensorflow/tfjs");
  let detail = backend;
  if (backend === "torch") {
    const native = require(path.join(here, "..", "build", "bench", "lib", "backend", "native", "index.js"));
    const st = native.tryRegisterNativeBackend();
    if (!st.ok) {
      emit({ error: `unavailable: ${st.reason}` });
      process.exit(0);
    }
    detail = st.detail;
  } else if (backend === "torch-resident" || backend === "torch-cuda") {
    // The device-resident libtorch backend (src/helpers/backend/resident): the CPU flavour, or the GPU's.
    const resident = require(path.join(here, "..", "build", "bench", "lib", "backend", "resident", "index.js"));
    const st = resident.tryRegisterResidentBackends();
    if (!st.ok || !st.names.includes(backend)) {
      emit({ error: `unavailable: ${st.reason}` });
      process.exit(0);
    }
    detail = backend === "torch-cuda" ? `${st.gpu}, ${st.detail}` : st.detail;
  } else if (backend === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm");
    // The composed gradient kernels that let wasm train (src/helpers/backend/wasm/trainingKernels.ts).
    const wasm = require(path.join(here, "..", "build", "bench", "lib", "backend", "wasm", "trainingKernels.js"));
    const added = wasm.registerWasmTrainingKernels();
    detail = added.length ? `wasm + composed ${added.join(", ")}` : "wasm";
  }
  await tf.setBackend(backend);
  await tf.ready();
  const { setupRow } = await import("./models.mjs");
  const run = setupRow(rowId);
  const t0 = performance.now();
  run(); // warm-up (first-call allocations, wasm compilation)
  const warmMs = performance.now() - t0;
  const times = [], cpu = [];
  const start = performance.now();
  // At least 3 timed iterations, then until `seconds` are spent (at most 30).
  while (times.length < 3 || (performance.now() - start < seconds * 1000 && times.length < 30)) {
    const t = performance.now(), c = process.cpuUsage();
    run();
    times.push(performance.now() - t);
    const dc = process.cpuUsage(c);
    cpu.push((dc.user + dc.system) / 1000);
  }
  // The resident backend counts kernels that took its cpu fallback: a training step should have none.
  const fallbacks = backend.startsWith("torch-")
    ? Object.keys(require(path.join(here, "..", "build", "bench", "lib", "backend", "resident", "index.js")).residentFallbacks())
    : undefined;
  emit({ times, cpu, warmMs, detail, fallbacks });
} catch (e) {
  emit({ error: String(e?.message ?? e).split("\n")[0].slice(0, 200) });
}
