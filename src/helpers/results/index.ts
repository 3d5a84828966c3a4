/** Results: the per-notebook results contract and the first cell that starts a run. */
export * from "./notebookRun";
export { startNotebook, type StartNotebookOptions } from "./notebook";
