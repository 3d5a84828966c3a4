/**
 * Every environment variable the course reads, wherever it is read (the helpers, the native addon, the set-up
 * scripts, the notebook runner, a notebook): name, default, what it accepts, and one line of documentation.
 * The README's settings table is checked against this list (test/helpers/config), and the helpers read their
 * settings only through `readSetting`, so a bad value fails with one message that names the variable.
 */

/** Which part of the course reads a variable (the helpers read theirs through this module). */
export type SettingReader = "helpers" | "native addon" | "set-up" | "notebook runner" | "notebook 04";

/** What a variable accepts. */
export type SettingKind =
  | { type: "path" }
  | { type: "text" }
  | { type: "choice"; values: readonly string[] }
  /** `1`/`true`/`yes` turn it on, `0`/`false`/`no` off. */
  | { type: "switch" }
  /** A whole number, at least `min`. */
  | { type: "integer"; min: number };

export interface Setting {
  name: string;
  /** The default, as the README's table shows it. */
  default: string;
  kind: SettingKind;
  readBy: SettingReader;
  doc: string;
}

const setting = (name: string, def: string, kind: SettingKind, readBy: SettingReader, doc: string): Setting => ({
  name, default: def, kind, readBy, doc,
});
const path = { type: "path" } as const;
const onOff = { type: "switch" } as const;
const count = (min: number) => ({ type: "integer", min }) as const;

export const SETTINGS: readonly Setting[] = [
  setting("TL_CACHE_DIR", "`$XDG_CACHE_HOME/transfer-learning-ts` or `~/.cache/transfer-learning-ts`", path, "helpers",
    "download cache with `datasets/` and `models/`; may be read-only once filled"),
  setting("TL_PROFILE", "`quick`", { type: "choice", values: ["quick", "full", "full-rehearsal"] }, "helpers",
    "`quick` or `full`; `full-rehearsal` (set by `make rehearsal`) runs `full` on stand-in data and labels its results so"),
  setting("TL_BACKEND", "automatic", { type: "choice", values: ["tensorflow", "tensorflow-gpu", "torch", "torch-cuda", "torch-resident", "wasm", "cpu"] }, "helpers",
    "force a tfjs backend: `tensorflow`, `tensorflow-gpu`, `torch`, `torch-cuda` (libtorch on the GPU), `torch-resident` (the GPU backend's code on the CPU), `wasm` or `cpu`"),
  setting("TL_BUILD_DIR", "`build/`", path, "helpers", "where results, executed notebooks, handouts and feature caches go"),
  setting("TL_OFFLINE", "off", onOff, "helpers", "`1` forbids downloads: everything must already be in the cache"),
  setting("TL_DOWNLOAD_MIRROR", "unset (official URLs)", path, "helpers",
    "fetch every registered download from `<mirror>/<host>/<path of the official URL>`: an `https://` base URL, `http://` to a loopback address only, or a local directory; sizes and checksums still apply"),
  setting("TL_DOWNLOAD_MANIFEST", "unset", path, "helpers",
    "JSON file of sizes/checksums that replace the registered ones for the URLs it lists (a mirror of stand-in files, e.g. `make rehearsal`'s)"),
  setting("TL_REHEARSAL_PER_CLASS", "unset (every image)", count(1), "helpers",
    "only under `full-rehearsal` (`make rehearsal` sets it): MNIST and Fashion-MNIST keep the first N images per class of each split, so chapter 2's full path runs in a minute; an error under any other profile"),
  setting("TL_HEADLESS", "off", onOff, "helpers", "`1` (set by the headless runner): progress as compact lines, no live updates"),
  setting("TL_DISPLAY_DIR", "`<tmp>/tl-display`", path, "helpers", "outside a notebook, where displayed images and charts are written"),
  setting("TL_CH4_BACKBONE", "unset", path, "notebook 04", "chapter 4 (full profile): `model.json` of another Keras-converted TF.js layers model to use as backbone"),
  setting("TL_NATIVE", "on", onOff, "helpers", "`0` never loads the native addon (the `torch` backend); wasm/cpu are used instead"),
  setting("TL_NATIVE_ADDON", "`native/build/torch_kernels.node`", path, "helpers", "load this addon file instead of searching for the built one"),
  setting("TL_RESIDENT_ADDON", "`native/build/torch_resident.node`", path, "helpers", "load this file as the resident (`torch-cuda` / `torch-resident`) addon instead of searching for the built one"),
  setting("TL_TORCH_THREADS", "every core, fewer while other processes keep cores busy", count(1), "helpers", "pins ATen's thread count"),
  setting("TL_TORCH_POOL_MB", "an eighth of physical memory, 512 to 2048", count(0), "helpers",
    "cap of the addon's output-buffer pool; `0` turns buffer recycling off"),
  setting("TL_TORCH_SMALL", "`8192`", count(0), "helpers", "tensors below this many elements use the JS elementwise kernels"),
  setting("TL_FRUGAL_BACKPROP", "on", onOff, "helpers", "`0` restores tfjs' own backprop walk (keeps every activation until the pass ends)"),
  setting("TL_TORCH_CACHE_MB", "`256` (`torch`); an eighth of physical memory, 512 to 2048 (resident addon)", count(0), "native addon",
    "cap of the addons' caching allocator for ATen's CPU tensors; `0` keeps ATen's allocator"),
  setting("TL_TORCH_MALLOPT", "on", onOff, "native addon", "`0` keeps glibc's default mmap threshold"),
  setting("TL_TORCH_MMAP_MB", "`64`", count(1), "native addon", "glibc mmap threshold the addon sets (when `TL_TORCH_MALLOPT` is on)"),
  setting("TL_TORCH_TRIM_MB", "glibc's", count(1), "native addon", "glibc trim threshold the addon sets (when `TL_TORCH_MALLOPT` is on)"),
  setting("TL_LIBTORCH", "unset (a Python torch with CUDA, else any Python torch with headers, else Debian's `libtorch-dev`)", path, "set-up",
    "`native/build.sh` builds the addons against this libtorch: a folder with `include/` and `lib/` (a pip torch's package folder or an unpacked libtorch)"),
  setting("TL_PYTHON", "unset (`python3`, then `/usr/bin/python3`)", path, "set-up", "`native/build.sh` also asks this interpreter for its torch (first)"),
  setting("TL_SKIP_APT", "off", onOff, "set-up", "`1`: the set-up never calls apt-get (you installed the system packages yourself)"),
  setting("TL_WITH_LIBTORCH", "on", onOff, "set-up", "`0`: the set-up does not install `libtorch-dev` (the native kernels are then skipped)"),
  setting("TL_WITH_JUPYTER_UI", "off", onOff, "set-up", "`1`: the set-up also installs `jupyter-notebook` (`make jupyter` sets it)"),
  setting("TL_SKIP_SETUP", "off", onOff, "set-up", "`1`: `make jupyter` skips the set-up step"),
  setting("TL_FORCE_SETUP", "off", onOff, "set-up", "`1`: `make jupyter` runs the set-up even when its stamp says it is current"),
  setting("TL_KERNEL_PREFIX", "unset (`--user`)", path, "set-up", "register the `tslab` kernelspec under this prefix instead of the user's"),
];

/** Thrown for settings a user got wrong; the message says what and how to fix it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The declaration of a variable; an undeclared name is a programming error. */
export function settingInfo(name: string): Setting {
  const s = SETTINGS.find((x) => x.name === name);
  if (!s) throw new Error(`'${name}' is not a declared setting; add it to SETTINGS in config/settings.ts.`);
  return s;
}

function describe(kind: SettingKind): string {
  switch (kind.type) {
    case "choice": return `one of ${kind.values.join(", ")}`;
    case "switch": return "1 or 0";
    case "integer": return `a whole number >= ${kind.min}`;
    default: return "a path or text";
  }
}

/**
 * A setting's value, checked: undefined when unset or blank; a choice lower-cased; a switch as a boolean; an integer as
 * a number. A value of the wrong kind throws a ConfigError naming the variable, the value and what it accepts.
 */
export function readSetting(name: string, env: NodeJS.ProcessEnv = process.env): string | number | boolean | undefined {
  const s = settingInfo(name);
  const raw = (env[name] ?? "").trim();
  if (raw === "") return undefined;
  const bad = () => new ConfigError(`${name}=${raw} is not valid: use ${describe(s.kind)} (${s.doc}), or unset it for the default (${s.default}).`);
  switch (s.kind.type) {
    case "choice": {
      const v = raw.toLowerCase();
      if (!s.kind.values.includes(v)) throw bad();
      return v;
    }
    case "switch": {
      const v = raw.toLowerCase();
      if (["1", "true", "yes"].includes(v)) return true;
      if (["0", "false", "no"].includes(v)) return false;
      throw bad();
    }
    case "integer": {
      const v = Number(raw);
      if (!Number.isInteger(v) || v < s.kind.min) throw bad();
      return v;
    }
    default:
      return raw;
  }
}

/** A switch setting, with its default when unset. */
export function switchSetting(name: string, whenUnset: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const v = readSetting(name, env);
  return v === undefined ? whenUnset : (v as boolean);
}

/** An integer setting, or undefined when unset. */
export function integerSetting(name: string, env: NodeJS.ProcessEnv = process.env): number | undefined {
  return readSetting(name, env) as number | undefined;
}

/** A path or text setting, or undefined when unset. */
export function textSetting(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return readSetting(name, env) as string | undefined;
}

/** The README's settings table, generated from SETTINGS (the README holds this exact text between its markers). */
export function settingsTableMarkdown(): string {
  const rows = SETTINGS.map((s) => `| \`${s.name}\` | ${s.default} | ${s.doc} |`);
  return ["| variable | default | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}
