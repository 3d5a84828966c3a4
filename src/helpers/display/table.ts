/**
 * `table(rows)`: a small results table that shows as HTML in a notebook and as aligned plain text
 * everywhere else (`String(t)`), with number formats for the usual suspects (percentages, seconds).
 */
import * as util from "node:util";
import { show, type DisplayBundle, type Showable, type ShowOptions } from "./show";

/** How to render one cell: a named format or a function. */
export type CellFormat =
  | "auto" // integers as-is, other numbers with `digits` decimals (1 when |x| >= 100)
  | "percent" // 0.873 -> "87.3%" (`digits` decimals, default 1)
  | "seconds" // 4.2 -> "4.20 s", 125 -> "2m 05s", 4000 -> "1h 06m"
  | "int" // rounded
  | "fixed" // exactly `digits` decimals
  | "text"
  | ((value: unknown, row: Readonly<Record<string, unknown>>) => string);

export interface TableColumn {
  key: string;
  /** Header text (default: the key). */
  header?: string;
  format?: CellFormat;
  /** Decimals for number formats (default 3 for auto/fixed, 1 for percent). */
  digits?: number;
  /** Default: right for columns whose values are all numbers, else left. */
  align?: "left" | "right";
}

export interface TableOptions {
  /** Which columns, in order (keys or specs). Default: every key, in order of first appearance. */
  columns?: ReadonlyArray<string | TableColumn>;
  /** Format per key, merged into `columns` (handy with the default columns). */
  format?: Readonly<Record<string, CellFormat>>;
  title?: string;
}

type Row = Readonly<Record<string, unknown>>;

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return String(s);
  if (Math.abs(s) < 60) return `${s.toFixed(Math.abs(s) < 10 ? 2 : 1)} s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}m ${String(sec).padStart(2, "0")}s`;
}

export function formatCell(value: unknown, format: CellFormat = "auto", digits?: number, row: Row = {}): string {
  if (typeof format === "function") return format(value, row);
  if (value === null || value === undefined || (typeof value === "number" && Number.isNaN(value))) return "-";
  if (typeof value !== "number" || format === "text") return typeof value === "string" ? value : String(value);
  switch (format) {
    case "percent":
      return `${(value * 100).toFixed(digits ?? 1)}%`;
    case "seconds":
      return formatSeconds(value);
    case "int":
      return String(Math.round(value));
    case "fixed":
      return value.toFixed(digits ?? 3);
    default:
      if (Number.isInteger(value) || !Number.isFinite(value)) return String(value);
      // Small numbers (learning rates, weight decays) keep their significant digits: 2e-5, not 0.000.
      if (digits === undefined && Math.abs(value) < 1e-3) return Number(value.toPrecision(3)).toExponential();
      if (digits === undefined && Math.abs(value) < 0.01) return String(Number(value.toPrecision(3)));
      return value.toFixed(digits ?? (Math.abs(value) >= 100 ? 1 : 3));
  }
}

interface ResolvedColumn extends Required<Omit<TableColumn, "digits">> {
  digits?: number;
}

export class Table implements Showable {
  readonly columns: readonly ResolvedColumn[];
  constructor(
    readonly rows: readonly Row[],
    opts: TableOptions = {},
  ) {
    const specs: TableColumn[] = (opts.columns ?? inferKeys(rows)).map((c) => (typeof c === "string" ? { key: c } : c));
    this.columns = specs.map((c) => {
      const values = rows.map((r) => r[c.key]).filter((v) => v !== null && v !== undefined);
      const numeric = values.length > 0 && values.every((v) => typeof v === "number");
      return {
        key: c.key,
        header: c.header ?? c.key,
        format: c.format ?? opts.format?.[c.key] ?? "auto",
        digits: c.digits,
        align: c.align ?? (numeric ? "right" : "left"),
      };
    });
    this.title = opts.title;
  }
  readonly title?: string;

  /** The formatted cell strings, row by row. */
  cells(): string[][] {
    return this.rows.map((r) => this.columns.map((c) => formatCell(r[c.key], c.format, c.digits, r)));
  }

  toHTML(): string {
    const th = this.columns
      .map((c) => `<th style="text-align:${c.align}">${escapeHtml(c.header)}</th>`)
      .join("");
    const body = this.cells()
      .map((cells) => `<tr>${cells.map((s, i) => `<td style="text-align:${this.columns[i].align}">${escapeHtml(s)}</td>`).join("")}</tr>`)
      .join("\n");
    const caption = this.title ? `<caption>${escapeHtml(this.title)}</caption>` : "";
    return `<table>${caption}<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
  }

  /** Aligned plain text: header, dashed rule, rows (numbers right-aligned). */
  toText(): string {
    const cells = this.cells();
    const widths = this.columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)));
    const pad = (s: string, i: number) => (this.columns[i].align === "right" ? s.padStart(widths[i]) : s.padEnd(widths[i]));
    const line = (r: string[]) => r.map(pad).join("  ").trimEnd();
    const out = [line(this.columns.map((c) => c.header)), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)];
    if (this.title) out.unshift(this.title);
    return out.join("\n");
  }

  toString(): string {
    return this.toText();
  }

  toDisplay(): DisplayBundle {
    return { text: this.toText(), html: this.toHTML() };
  }

  /** Display in the notebook (HTML) or print the text table. */
  show(opts?: ShowOptions): Promise<void> {
    return show(this, opts);
  }

  [util.inspect.custom](): string {
    return this.toText();
  }
}

function inferKeys(rows: readonly Row[]): string[] {
  const keys = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) keys.add(k);
  return [...keys];
}

/** Build a table from row objects; display with `show(t)` / `t.show()`, or print `String(t)`. */
export function table(rows: ReadonlyArray<Readonly<Record<string, unknown>>>, opts: TableOptions = {}): Table {
  if (!Array.isArray(rows)) throw new TypeError(`table: expected an array of row objects, got ${typeof rows}. Wrap a single row as [row].`);
  return new Table(rows, opts);
}
