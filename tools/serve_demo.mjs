#!/usr/bin/env node
// Serve the built demo on 127.0.0.1 (what `make demo` runs). Loopback only: the page needs no network at all.
// The isolation headers let tfjs' WebAssembly backend use threads (SharedArrayBuffer).
//
//   node tools/serve_demo.mjs [--dir build/handouts/demo] [--port 8765]   (--port 0 picks a free port)
import * as http from "node:http";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import sirv from "sirv";

/** Start the static server; resolves with { url, close }. */
export function serveDemo({ dir, port = 8765, host = "127.0.0.1" }) {
  if (!fs.existsSync(path.join(dir, "index.html"))) {
    throw new Error(`${dir} has no demo: build it first (make demo, or node tools/build_demo.mjs).`);
  }
  const files = sirv(dir, {
    dev: true, // no caching of stale models between runs
    setHeaders: (res) => {
      res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
      res.setHeader("Cross-Origin-Embedder-Policy", "require-corp");
    },
  });
  const server = http.createServer((req, res) => files(req, res, () => { res.statusCode = 404; res.end("not found"); }));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const { port: p } = server.address();
      resolve({ url: `http://${host}:${p}/`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const build = process.env.TL_BUILD_DIR ? path.resolve(process.env.TL_BUILD_DIR) : path.join(root, "build");
  const dir = path.resolve(arg("--dir") ?? path.join(build, "handouts", "demo"));
  try {
    const { url } = await serveDemo({ dir, port: Number(arg("--port") ?? 8765) });
    console.log(`[demo] serving ${dir}\n[demo] open ${url}  (Ctrl+C to stop)`);
  } catch (e) {
    console.error(`[demo] ${e.code === "EADDRINUSE" ? `port in use; pick another with make demo PORT=...` : e.message}`);
    process.exit(1);
  }
}
