// Per-kernel wall time (tf.profile) of one iteration of a bench row, any backend. Development aid:
//   node bench/profile.mjs <torch|wasm|cpu> "<row id>"   (torch needs build/bench/lib from `node bench/run.mjs`)
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
const [backend, rowId] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const tf = await import("@tensorflow/tfjs");
if (backend === "torch") console.log(require(path.join(here, "..", "build", "bench", "lib", "backend", "native", "index.js")).tryRegisterNativeBackend());
if (backend === "wasm") await import("@tensorflow/tfjs-backend-wasm");
await tf.setBackend(backend);
const { setupRow } = await import("./models.mjs");
const run = setupRow(rowId);
run();
const t0 = performance.now();
const info = await tf.profile(() => run());
const total = performance.now() - t0;
const agg = new Map();
for (const k of info.kernels) {
  const a = agg.get(k.name) ?? { ms: 0, n: 0 };
  a.ms += typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
  a.n++;
  agg.set(k.name, a);
}
const rows = [...agg].sort((a, b) => b[1].ms - a[1].ms);
console.log(`total ${total.toFixed(0)} ms (profiled), kernels ${info.kernels.length}`);
for (const [n, a] of rows.slice(0, 25)) console.log(`${n.padEnd(40)} ${a.ms.toFixed(1).padStart(9)} ms  x${a.n}`);
