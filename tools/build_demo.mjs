#!/usr/bin/env node
// Build the browser demo (build/handouts/demo/ by default): bundle demo/app.ts with the helpers' pipeline code and
// tfjs from node_modules (no CDN: the page works offline), copy the WebAssembly kernels and every exported
// classifier (build/models/*/ written by exportImageClassifier) next to it, and list them in models.json.
//
//   node tools/build_demo.mjs [--out DIR] [--models DIR]   (both default under TL_BUILD_DIR or build/)
import * as esbuild from "esbuild";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const FORMAT = "tl-image-classifier/1";

/** Exported classifiers under `modelsRoot`: folders whose metadata.json has the export format. */
export function findExportedModels(modelsRoot) {
  if (!fs.existsSync(modelsRoot)) return [];
  return fs.readdirSync(modelsRoot, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(modelsRoot, d.name))
    .filter((dir) => {
      try { return JSON.parse(fs.readFileSync(path.join(dir, "metadata.json"), "utf8")).format === FORMAT; } catch { return false; }
    })
    .sort();
}

/** Build the demo into `out` with the models in `modelDirs`; returns the models.json entries. */
export async function buildDemo({ out, modelDirs }) {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.join(out, "vendor"), { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(root, "demo", "app.ts")],
    outfile: path.join(out, "app.js"),
    bundle: true, format: "iife", platform: "browser", target: "es2020", minify: true, sourcemap: true, logLevel: "warning",
  });
  for (const f of ["index.html", "demo.css"]) fs.copyFileSync(path.join(root, "demo", f), path.join(out, f));
  const wasmDir = path.join(root, "node_modules", "@tensorflow", "tfjs-backend-wasm", "dist");
  for (const f of fs.readdirSync(wasmDir).filter((f) => f.endsWith(".wasm"))) fs.copyFileSync(path.join(wasmDir, f), path.join(out, "vendor", f));
  const entries = [];
  for (const dir of modelDirs) {
    const id = path.basename(dir);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, "metadata.json"), "utf8"));
    const dest = path.join(out, "models", id);
    fs.mkdirSync(dest, { recursive: true });
    for (const f of fs.readdirSync(dir)) if (fs.statSync(path.join(dir, f)).isFile()) fs.copyFileSync(path.join(dir, f), path.join(dest, f));
    entries.push({ id, name: meta.name, dir: `models/${id}` });
  }
  fs.writeFileSync(path.join(out, "models.json"), JSON.stringify(entries, null, 1) + "\n");
  return entries;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
  const build = process.env.TL_BUILD_DIR ? path.resolve(process.env.TL_BUILD_DIR) : path.join(root, "build");
  const out = path.resolve(arg("--out") ?? path.join(build, "handouts", "demo"));
  const modelsRoot = path.resolve(arg("--models") ?? path.join(build, "models"));
  const entries = await buildDemo({ out, modelDirs: findExportedModels(modelsRoot) });
  if (entries.length === 0) console.warn(`[demo] no exported classifier in ${modelsRoot}: run \`make course NB=03\` first; the page will say so.`);
  console.log(`[demo] built ${out} with ${entries.length} model(s)${entries.length ? `: ${entries.map((e) => e.id).join(", ")}` : ""}`);
}
