// Time spent inside the native addon per training/inference step, by addon function (binary/unary/
// reduce split by op code and size), plus page faults and CPU time per step. Development aid:
//   node bench/native-profile.mjs "train mnv2 a0.35@96" [torch|torch-resident]   (after `node bench/run.mjs` built build/bench/lib)
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const backend = process.argv[3] ?? "torch";
const resident = backend !== "torch";
const addon = require(resident ? "../native/build/torch_resident.node" : "../native/build/torch_kernels.node");
// The resident addon's op codes index its op tables: name them.
const opNames = resident ? addon.opNames() : undefined;
const opName = (k, code) => (opNames?.[k]?.[code] ?? code);
const acc = {};
for (const k of Object.keys(addon)) {
  const f = addon[k];
  addon[k] = (...a) => {
    const t = performance.now();
    try {
      return f(...a);
    } finally {
      const key = resident
        ? (k === "binary" || k === "unary" || k === "reduce" ? `${k} ${opName(k, a[0])}` : k)
        : k === "binary" || k === "unary" || k === "reduce" ? `${k}${a[0]}/${a[1]?.length > 100000 ? "big" : "small"}` : k;
      const e = (acc[key] ??= { ms: 0, n: 0 });
      e.ms += performance.now() - t;
      e.n++;
    }
  };
}
const tf = await import("@tensorflow/tfjs");
if (resident) require("../build/bench/lib/backend/resident/index.js").tryRegisterResidentBackends();
else require("../build/bench/lib/backend/native/index.js").tryRegisterNativeBackend();
await tf.setBackend(backend);
const { setupRow } = await import("./models.mjs");
const run = setupRow(process.argv[2] ?? "train mnv2 a0.35@96");
for (let i = 0; i < 3; i++) run();
for (const k of Object.keys(acc)) delete acc[k];
const N = 6, times = [];
for (let i = 0; i < N; i++) {
  const t = performance.now();
  run();
  times.push(performance.now() - t);
}
const native = Object.values(acc).reduce((s, v) => s + v.ms, 0);
console.log("step ms", times.map((t) => t.toFixed(0)).join(" "), "native ms/step", (native / N).toFixed(1));
for (const [k, v] of Object.entries(acc).sort((a, b) => b[1].ms - a[1].ms)) console.log(k.padEnd(22), (v.ms / N).toFixed(1), "ms/step", v.n / N, "calls");
const r0 = process.resourceUsage(), t0 = performance.now();
for (let i = 0; i < 3; i++) run();
const r1 = process.resourceUsage();
console.log("minor faults/step", ((r1.minorPageFault - r0.minorPageFault) / 3).toFixed(0), "ms/step", ((performance.now() - t0) / 3).toFixed(0),
  "cpu ms/step", ((r1.userCPUTime - r0.userCPUTime + r1.systemCPUTime - r0.systemCPUTime) / 3000).toFixed(0), "sys", ((r1.systemCPUTime - r0.systemCPUTime) / 3000).toFixed(0));
