/**
 * @course/helpers: everything the notebooks use more than once, in one typed package.
 * Each module has one job; this index re-exports their public surface so a notebook needs one import:
 *   import * as tl from "@course/helpers";
 */
export * from "./config";
export * from "./types";
export * from "./backend";
export * from "./fetch";
export * from "./sets";
export * from "./pipeline";
export * from "./models";
export * from "./transfer";
export * from "./train";
export * from "./eval";
export * from "./plot";
export * from "./display";
export * from "./results";
