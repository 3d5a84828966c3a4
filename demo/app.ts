/**
 * The browser demo: load an exported classifier (model.json + metadata.json), prepare a photo with the same
 * pipeline code the notebooks evaluated with, and show the class probabilities. Bundled by tools/build_demo.mjs.
 *
 * For tests and curious learners, `window.tlDemo` exposes the state: `ready` (a promise), `classifyBlob(blob)`,
 * and `last` (the last result). `document.body.dataset.state` is loading | ready | busy | done | error.
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { applyClassifierPipeline } from "../src/helpers/models/classifierPipeline";
import type { ExportedClassifierMetadata } from "../src/helpers/models/classifierExport";

interface ModelEntry { id: string; name: string; dir: string }
interface DemoResult { seq: number; model: string; classes: string[]; probabilities: number[]; top1: string; predictMs: number; totalMs: number; backend: string }

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (text: string, state?: string) => {
  $("status").textContent = text;
  if (state) document.body.dataset.state = state;
};

let current: { entry: ModelEntry; model: tf.LayersModel; meta: ExportedClassifierMetadata } | undefined;
let last: DemoResult | undefined;
let seq = 0;

/** Fastest backend that works here: WebGL on a real GPU, else WebAssembly (SIMD, threads when isolated), else plain JS. */
async function chooseBackend(): Promise<string> {
  const forced = new URLSearchParams(location.search).get("backend");
  setWasmPaths("vendor/");
  const order = forced ? [forced] : [...(hardwareWebGL() ? ["webgl"] : []), "wasm", "cpu"];
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) { await tf.ready(); return tf.getBackend(); }
    } catch { /* try the next one */ }
  }
  throw new Error(`no TensorFlow.js backend could start (tried ${order.join(", ")})`);
}

/** WebGL through a software rasteriser (SwiftShader, llvmpipe) is slower than WebAssembly: skip it. */
function hardwareWebGL(): boolean {
  const gl = document.createElement("canvas").getContext("webgl2");
  if (!gl) return false;
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  const renderer = String(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
  return !/swiftshader|llvmpipe|software/i.test(renderer);
}

async function fetchJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

async function loadModel(entry: ModelEntry): Promise<void> {
  status(`Loading ${entry.name}…`, "loading");
  const meta = await fetchJson<ExportedClassifierMetadata>(`${entry.dir}/metadata.json`);
  const model = await tf.loadLayersModel(`${entry.dir}/model.json`);
  current?.model.dispose();
  current = { entry, model, meta };
  const metrics = Object.entries(meta.metrics ?? {}).map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`).join(", ");
  const run = meta.run ? ` Trained by notebook <code>${meta.run.notebook ?? "?"}</code>, profile <code>${meta.run.profile ?? "?"}</code>.` : "";
  $("model-info").innerHTML =
    `<strong>${escapeHtml(meta.name)}</strong>: ${meta.classes.length} classes, input ${meta.inputSize}×${meta.inputSize}` +
    `${metrics ? `; ${escapeHtml(metrics)}` : ""}.${run}`;
  status(`Ready (${tf.getBackend()} backend). Pick or drop an image.`, "ready");
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

/**
 * 8-bit RGB pixels of an image file, decoded as the course decodes (sharp): EXIF orientation applied, an embedded
 * colour profile converted to sRGB (skipping that changes some photos by up to 19 levels), transparency flattened on white. (Photos over 4096 px are shrunk by the notebooks' decoder with
 * another filter; the page keeps them whole, so such photos can differ slightly.)
 */
async function decodeToRgb(source: Blob | HTMLVideoElement): Promise<{ data: Uint8Array; width: number; height: number; channels: 3 }> {
  const bitmap = source instanceof Blob
    ? await createImageBitmap(source, { colorSpaceConversion: "default", premultiplyAlpha: "none", imageOrientation: "from-image" })
    : await createImageBitmap(source);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d", { colorSpace: "srgb" })!;
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const n = bitmap.width * bitmap.height, rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = rgba[i * 4 + 3] / 255;
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = a === 1 ? rgba[i * 4 + c] : Math.round(rgba[i * 4 + c] * a + 255 * (1 - a));
  }
  const out = { data: rgb, width: bitmap.width, height: bitmap.height, channels: 3 as const };
  bitmap.close();
  return out;
}

async function classify(source: Blob | HTMLVideoElement): Promise<DemoResult> {
  if (!current) throw new Error("no model is loaded yet");
  const { model, meta } = current;
  status("Classifying…", "busy");
  const t0 = performance.now();
  const img = await decodeToRgb(source);
  const x = applyClassifierPipeline(img, meta.pipeline);
  showModelInput(x);
  const t1 = performance.now();
  const y = model.predict(x) as tf.Tensor;
  const probabilities = Array.from(await y.data());
  const t2 = performance.now();
  x.dispose();
  y.dispose();
  const top = probabilities.indexOf(Math.max(...probabilities));
  last = { seq: ++seq, model: current.entry.id, classes: meta.classes, probabilities, top1: meta.classes[top], predictMs: t2 - t1, totalMs: t2 - t0, backend: tf.getBackend() };
  drawBars(meta.classes, probabilities);
  $("timing").textContent = `model ${last.predictMs.toFixed(1)} ms, with decoding and resizing ${last.totalMs.toFixed(1)} ms (${last.backend} backend)`;
  status(`Top class: ${last.top1}`, "done");
  return last;
}

/** Draw the prepared input back as pixels (undoing the normalisation by its min/max) so learners see the crop. */
function showModelInput(x: tf.Tensor4D): void {
  const canvas = $<HTMLCanvasElement>("model-input");
  const img = tf.tidy(() => {
    const t = x.squeeze([0]) as tf.Tensor3D;
    const lo = t.min(), hi = t.max();
    return t.sub(lo).div(hi.sub(lo).maximum(1e-6)) as tf.Tensor3D;
  });
  void tf.browser.toPixels(img, canvas).then(() => img.dispose());
  $("seen").hidden = false;
}

function drawBars(classes: string[], p: number[]): void {
  const order = p.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 10);
  $("bars").innerHTML = order
    .map(([v, i], rank) =>
      `<div class="bar${rank === 0 ? " top" : ""}"><span>${escapeHtml(classes[i])}</span>` +
      `<span class="track"><span class="fill" style="width:${(100 * v).toFixed(2)}%"></span></span>` +
      `<span class="p">${(100 * v).toFixed(1)}%</span></div>`)
    .join("");
}

function wireInputs(): void {
  const drop = $("drop");
  const run = (f: Blob | HTMLVideoElement) => classify(f).catch((e) => status(`Could not classify this image: ${(e as Error).message}`, "error"));
  $<HTMLInputElement>("file").addEventListener("change", (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void run(f);
  });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const f = e.dataTransfer?.files?.[0];
    if (f) void run(f);
  });
  $("webcam").addEventListener("click", async () => {
    const video = $<HTMLVideoElement>("video");
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
      await video.play();
      video.hidden = false;
      $("snap").hidden = false;
    } catch (e) {
      status(`The webcam is not available here (${(e as Error).message}); pick an image file instead.`, "ready");
    }
  });
  $("snap").addEventListener("click", () => void run($<HTMLVideoElement>("video")));
}

async function main(): Promise<void> {
  if (location.protocol === "file:") {
    throw new Error("this page must be served over HTTP to load its model: run `make demo` and open the URL it prints.");
  }
  const backend = await chooseBackend();
  const entries = await fetchJson<ModelEntry[]>("models.json");
  if (entries.length === 0) throw new Error("no exported model: run `make course` (chapters 3 and 4 export their classifiers), then `make demo`.");
  const select = $<HTMLSelectElement>("model-select");
  select.innerHTML = entries.map((e) => `<option value="${escapeHtml(e.id)}">${escapeHtml(e.name)}</option>`).join("");
  const wanted = new URLSearchParams(location.search).get("model");
  const first = entries.find((e) => e.id === wanted) ?? entries[0];
  select.value = first.id;
  select.addEventListener("change", () => void loadModel(entries.find((e) => e.id === select.value)!).catch(fail));
  wireInputs();
  await loadModel(first);
  console.log(`tl-demo: backend ${backend}`);
}

function fail(e: unknown): void {
  status(`The demo could not start: ${(e as Error).message}`, "error");
}

const ready = main().catch((e) => { fail(e); throw e; });
(window as unknown as { tlDemo: unknown }).tlDemo = {
  ready,
  classifyBlob: (b: Blob) => classify(b),
  decodeBlob: (b: Blob) => decodeToRgb(b),
  selectModel: async (id: string) => {
    const entries = await fetchJson<ModelEntry[]>("models.json");
    const e = entries.find((x) => x.id === id);
    if (!e) throw new Error(`no model '${id}'`);
    await loadModel(e);
  },
  get last() { return last; },
};
