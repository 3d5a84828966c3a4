import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, SETTINGS, integerSetting, readSetting, settingsTableMarkdown, switchSetting } from "../../../src/helpers/config";

const ROOT = path.resolve(__dirname, "../../..");

/** Every TL_* name in the files the course ships (helpers, tools, set-up, notebooks, bench, native addon). */
function namesInTree(): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!["dist", "node_modules", "build"].includes(e.name)) walk(p);
      } else if (/\.(ts|mjs|js|py|sh|cc|h|ipynb)$/.test(e.name)) {
        for (const m of fs.readFileSync(p, "utf8").matchAll(/\bTL_[A-Z0-9_]+\b/g)) if (!found.has(m[0])) found.set(m[0], path.relative(ROOT, p));
      }
    }
  };
  for (const d of ["src/helpers", "tools", "kernel-setup", "notebooks", "bench", "native"]) walk(path.join(ROOT, d));
  return found;
}

describe("settings", () => {
  it("declares every TL_* variable read anywhere in the course, and nothing unused", () => {
    const declared = new Set(SETTINGS.map((s) => s.name));
    const found = namesInTree();
    const undeclared = [...found].filter(([n]) => !declared.has(n)).map(([n, f]) => `${n} (${f})`);
    expect(undeclared).toEqual([]);
    expect([...declared].filter((n) => !found.has(n))).toEqual([]);
    expect(declared.size).toBe(SETTINGS.length);
  });

  it("README's settings table is the one generated from SETTINGS", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const m = /<!-- settings-table[^>]*-->\n([\s\S]*?)\n<!-- \/settings-table -->/.exec(readme);
    expect(m, "README.md lacks the settings-table markers").not.toBeNull();
    expect(m![1]).toBe(settingsTableMarkdown());
  });

  it("validates values and names the variable in the error", () => {
    expect(readSetting("TL_BACKEND", { TL_BACKEND: " Torch " })).toBe("torch");
    expect(() => readSetting("TL_BACKEND", { TL_BACKEND: "gpu" })).toThrow(ConfigError);
    expect(() => readSetting("TL_BACKEND", { TL_BACKEND: "gpu" })).toThrow(/TL_BACKEND=gpu is not valid: use one of tensorflow/);
    expect(switchSetting("TL_NATIVE", true, {})).toBe(true);
    expect(switchSetting("TL_NATIVE", true, { TL_NATIVE: "0" })).toBe(false);
    expect(() => switchSetting("TL_NATIVE", true, { TL_NATIVE: "maybe" })).toThrow(/TL_NATIVE=maybe is not valid: use 1 or 0/);
    expect(integerSetting("TL_TORCH_THREADS", { TL_TORCH_THREADS: "3" })).toBe(3);
    expect(integerSetting("TL_TORCH_POOL_MB", { TL_TORCH_POOL_MB: "0" })).toBe(0);
    expect(() => integerSetting("TL_TORCH_THREADS", { TL_TORCH_THREADS: "0" })).toThrow(/a whole number >= 1/);
    expect(() => integerSetting("TL_TORCH_SMALL", { TL_TORCH_SMALL: "8k" })).toThrow(/TL_TORCH_SMALL=8k/);
    expect(() => readSetting("TL_NOT_A_SETTING", {})).toThrow(/not a declared setting/);
  });
});
