/**
 * Tables that fit the terminal (cli-table3, no colours). Unless `wide`: ISO timestamps print as
 * `YYYY-MM-DD HH:MM:SS` (UTC), commit hashes as their first 12 characters, and a table wider
 * than `columns` ($COLUMNS or the terminal's width, see io.terminalColumns) has its widest column
 * cut with "…" until it fits. Columns of text (values with spaces) are cut first, then columns
 * of single words (origins, ids), never a column of timestamps; none below its header or
 * MIN_CONTENT characters (a table that cannot fit even so stays wider). `wide` prints every
 * value whole.
 */
import Table from 'cli-table3';
import { cell } from './sqlOutput.js';

export interface TableOptions {
  /** Width to fit in; undefined: no limit. */
  columns?: number | undefined;
  wide?: boolean | undefined;
}

/** Fewest characters a cut column keeps (its header's, when longer). */
const MIN_CONTENT = 12;
/** cli-table3's padding: a space either side of every cell. */
const PADDING = 2;
const ISO = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/;
const SHORT_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const COMMIT = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/** `2026-01-02T10:00:09.000Z` → `2026-01-02 10:00:09`; anything else as it is. */
export function shortTime(iso: string): string {
  const m = ISO.exec(iso);
  return m ? `${m[1]} ${m[2]}` : iso;
}

/** A commit hash (SHA-1 or SHA-256) → its first 12 characters; anything else as it is. */
export function shortCommit(hash: string): string {
  return COMMIT.test(hash) ? hash.slice(0, 12) : hash;
}

function shortCell(v: unknown, column: string): string {
  const s = cell(v);
  if (/commit/i.test(column)) return shortCommit(s);
  return shortTime(s);
}

function render(head: string[], rows: string[][], colWidths?: (number | null)[]): string {
  const t = new Table({ head, style: { head: [], border: [], compact: true }, ...(colWidths ? { colWidths } : {}) });
  for (const r of rows) t.push(r);
  return t.toString();
}

/** Column widths (padding included) read off a rendered table's top border `┌───┬──┐`. */
function widthsOf(rendered: string): number[] {
  const top = rendered.slice(0, rendered.indexOf('\n'));
  return top
    .slice(1, -1)
    .split('┬')
    .map((s) => s.length);
}

export function formatTable(head: string[], rows: readonly unknown[][], opts: TableOptions = {}): string {
  const cells = rows.map((r) => r.map((v, i) => (opts.wide ? cell(v) : shortCell(v, head[i] ?? ''))));
  const natural = render(head, cells);
  if (opts.wide || !opts.columns) return natural;
  const widths = widthsOf(natural);
  let total = widths.reduce((a, b) => a + b, 0) + widths.length + 1;
  if (total <= opts.columns) return natural;
  const column = (i: number) => cells.map((r) => r[i] ?? '');
  const timestamps = head.map((_, i) => cells.length > 0 && column(i).every((v) => v === '' || SHORT_TIME.test(v)));
  const text = head.map((_, i) => column(i).some((v) => /\s/.test(v)));
  const floors = widths.map((w, i) => (timestamps[i] ? w : Math.min(w, Math.max(MIN_CONTENT, head[i]!.length) + PADDING)));
  for (const tier of [(i: number) => text[i]!, (i: number) => !text[i]]) {
    // The widest column of the tier that may still give up a character does, one at a time: columns cut to the same width end up equal.
    while (total > opts.columns) {
      let widest = -1;
      for (let i = 0; i < widths.length; i++)
        if (tier(i) && widths[i]! > floors[i]! && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
      if (widest < 0) break;
      widths[widest]!--;
      total--;
    }
  }
  return render(head, cells, widths);
}

/** Rows as objects keyed by column name (the `--json` form of a table). */
export function rowObjects(columns: string[], rows: unknown[][]): Record<string, unknown>[] {
  return rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]])));
}
