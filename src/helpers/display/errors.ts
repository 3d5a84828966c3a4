/**
 * Errors as a learner reads them in a notebook: the message and the frames of the cell and the helpers, without
 * tslab's executor, Node's vm and other internals (tslab prints `error.stack`, which V8 builds through
 * `Error.prepareStackTrace`). Installed only inside a tslab kernel; other processes keep Node's format.
 */
import { notebookDisplay } from "./env";

const INTERNAL = [/^node:/, /[\\/]node_modules[\\/]tslab[\\/]/];

let installed = false;

/**
 * A frame of code the learner wrote: tslab runs each cell as an `evalmachine.<anonymous>` script of its compiled
 * JavaScript, whose line numbers are not the cell's (tslab keeps no source map), so name the cell, not a line.
 */
function cellFrame(line: string): string {
  return line.replace(/\(?evalmachine\.<anonymous>:\d+:\d+\)?/, "(the cell)").replace(/at \(the cell\)/, "at the cell");
}

export function installCellErrorFormat(): void {
  if (installed) return;
  installed = true;
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = (error: Error, sites: NodeJS.CallSite[]) => {
    if (previous) {
      // someone else formats stacks (e.g. source-map-support): keep theirs, only drop the internal lines
      const text = String(previous(error, sites));
      return text
        .split("\n")
        .filter((l) => !/^\s+at /.test(l) || !INTERNAL.some((r) => r.test(l.replace(/^\s+at .*\(/, "").replace(/^\s+at /, ""))))
        .map(cellFrame)
        .join("\n");
    }
    const head = (() => {
      try {
        return Error.prototype.toString.call(error);
      } catch {
        return "Error";
      }
    })();
    const kept = sites.filter((s) => {
      const f = s.getFileName() ?? "";
      return !INTERNAL.some((r) => r.test(f));
    });
    return [head, ...kept.map((s) => cellFrame(`    at ${s.toString()}`))].join("\n");
  };
}

// Loading the helpers in a kernel is what a notebook does first.
if (notebookDisplay()) installCellErrorFormat();
