/**
 * Showing things in tslab notebooks (with text/file fallbacks outside one), tables and progress bars.
 * Only the public surface is re-exported; formatting internals stay in their files.
 */
export { show, DISPLAY_DIR_ENV } from "./show";
export type { Showable, DisplayBundle, DisplayFormat, ShowOptions } from "./show";
export { inNotebook, isHeadless, notebookDisplay, setNotebookDisplay, HEADLESS_ENV } from "./env";
export type { DisplayLike, NotebookDisplay } from "./env";
export { table, Table } from "./table";
export type { CellFormat, TableColumn, TableOptions } from "./table";
export { progress, trainingProgress, detectProgressMode } from "./progress";
export type { Progress, ProgressOptions, ProgressMode, ProgressMetrics, OutStream, TrainingProgressCallbacks, TrainingProgressOptions } from "./progress";
export { beginWork, activeWork, requestInterrupt, installInterruptHandler, InterruptedError, isInterruptedError } from "./interrupt";
export type { Work } from "./interrupt";
export { autoProgressEnabled } from "./autoProgress";
export { installCellErrorFormat } from "./errors";
export { installQueuedKernelSends, queueBusySends } from "./kernelSends";
