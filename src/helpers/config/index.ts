/**
 * Course-wide settings read from the environment. Every variable is declared in ./settings (name, default,
 * validation, doc line) and every module asks here, so there is one place that says which variables exist.
 */
import * as os from "node:os";
import * as path from "node:path";

import { ConfigError, integerSetting, switchSetting } from "./settings";
export * from "./settings";

/** The names of the settings the course's own modules use most (all are declared in SETTINGS). */
export const ENV = {
  /** Download cache holding `datasets/` and `models/`. CI points it at a pre-filled copy. */
  cacheDir: "TL_CACHE_DIR",
  /** `quick` (default: offline, CPU, minutes) or `full` (the chapter's real data and settings). */
  profile: "TL_PROFILE",
  /** Force a tfjs backend (`tensorflow`, `torch`, `wasm`, `cpu`) instead of the automatic choice. */
  backend: "TL_BACKEND",
  /** Where build outputs (results, executed notebooks, feature caches, models) go. */
  buildDir: "TL_BUILD_DIR",
  /** Set to `1` to forbid network downloads (everything must already be in the cache). */
  offline: "TL_OFFLINE",
} as const;

export type Profile = "quick" | "full";
export const PROFILES: readonly Profile[] = ["quick", "full"];
/**
 * Names that run an existing profile's code paths under another label, so their results cannot pass for real ones:
 * `full-rehearsal` is the full profile on `make rehearsal`'s stand-in data (random images and weights).
 */
export const PROFILE_LABELS = { "full-rehearsal": "full" } as const satisfies Record<string, Profile>;
export type ProfileLabel = Profile | keyof typeof PROFILE_LABELS;

/** The profile name as set, label included (`quick`, `full` or `full-rehearsal`); what banners and results show. */
export function profileLabel(env: NodeJS.ProcessEnv = process.env): ProfileLabel {
  const raw = (env[ENV.profile] ?? "").trim().toLowerCase();
  if (raw === "") return "quick";
  if ((PROFILES as readonly string[]).includes(raw) || raw in PROFILE_LABELS) return raw as ProfileLabel;
  throw new ConfigError(
    `Unknown profile '${env[ENV.profile]}' in ${ENV.profile}. Use one of: ${[...PROFILES, ...Object.keys(PROFILE_LABELS)].join(", ")} ` +
      `(e.g. ${ENV.profile}=quick make course).`,
  );
}

/** The run profile whose code paths run, from `TL_PROFILE` (default `quick`); a label maps to its profile. An unknown name is an error, never a silent default. */
export function profile(env: NodeJS.ProcessEnv = process.env): Profile {
  const label = profileLabel(env);
  return label in PROFILE_LABELS ? PROFILE_LABELS[label as keyof typeof PROFILE_LABELS] : (label as Profile);
}

/**
 * The rehearsal's cap on the packaged data sets (MNIST, Fashion-MNIST): images per class and split, or undefined.
 * Only a `full-rehearsal` may shrink data behind the notebook's back; anywhere else the setting is an error, so no real
 * run can publish results computed on a subset without saying so.
 */
export function rehearsalPerClass(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const n = integerSetting("TL_REHEARSAL_PER_CLASS", env);
  if (n !== undefined && profileLabel(env) !== "full-rehearsal") {
    throw new ConfigError(`TL_REHEARSAL_PER_CLASS=${n} is only for make rehearsal (TL_PROFILE=full-rehearsal), but the profile is '${profileLabel(env)}': unset it.`);
  }
  return n;
}

/** Pick a value by profile: `byProfile({ quick: 3, full: 25 })`. */
export function byProfile<T>(choices: Record<Profile, T>, p: Profile = profile()): T {
  return choices[p];
}

/** The download cache directory: `TL_CACHE_DIR`, else `$XDG_CACHE_HOME/transfer-learning-ts`, else `~/.cache/transfer-learning-ts`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[ENV.cacheDir];
  if (explicit && explicit.trim() !== "") return path.resolve(explicit);
  const xdg = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.trim() !== "" ? env.XDG_CACHE_HOME : path.join(os.homedir(), ".cache");
  return path.join(xdg, "transfer-learning-ts");
}

/** Whether downloads are forbidden (`TL_OFFLINE=1`). */
export function offline(env: NodeJS.ProcessEnv = process.env): boolean {
  return switchSetting(ENV.offline, false, env);
}

/** Root of the project checkout (two levels above this compiled file's package). */
export function projectRoot(): string {
  // dist/config/index.js or config/index.ts -> src/helpers -> project root
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (require("node:fs").existsSync(path.join(dir, "notebooks")) && require("node:fs").existsSync(path.join(dir, "package.json"))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

/** Build output directory: `TL_BUILD_DIR`, else `<project>/build`. */
export function buildDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[ENV.buildDir];
  if (explicit && explicit.trim() !== "") return path.resolve(explicit);
  return path.join(projectRoot(), "build");
}
