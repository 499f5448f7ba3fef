/**
 * How `portsync sql` prints rows: `--json` and `--csv` write each piece as it arrives (never the
 * whole result as one string); the table needs every row for its column widths, so it waits
 * (the row and byte caps bound it).
 */
import { once } from 'node:events';
import type { SqlSink, SqlSummary } from '../builddb/sqlStream.js';
import { processIo, type Io } from './io.js';

export interface SqlOutput {
  sink: SqlSink;
  /** After the last row. */
  end(s: SqlSummary): void;
  /** The query failed after output began: leave what was printed well-formed. */
  fail(err: unknown): void;
}

export function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function csvField(v: unknown): string {
  const s = cell(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvLine(r: readonly unknown[]): string {
  return r.map(csvField).join(',');
}

/** Waits while stdout's buffer is full (a slow pipe), so printing keeps the pace of the reader. */
function drained(io: Io): void | Promise<void> {
  if (io === processIo && process.stdout.writableNeedDrain) return once(process.stdout, 'drain').then(() => undefined);
}

/** RFC 4180 CSV with a header line, a piece per chunk. */
export function csvOutput(io: Io): SqlOutput {
  return {
    sink: {
      begin: (columns) => io.out(csvLine(columns)),
      rows: (rows) => {
        io.out(rows.map(csvLine).join('\n'));
        return drained(io);
      },
    },
    end: () => undefined,
    fail: () => undefined,
  };
}

/** `{"columns":[…],"rows":[{…},…],"truncated":false}`, a row object per line. */
export function jsonOutput(io: Io): SqlOutput {
  let columns: string[] = [];
  // The last row is held back until the next one (or the end) says whether a comma follows.
  let held: string | null = null;
  const close = (tail: Record<string, unknown>) => {
    if (held !== null) io.out(held);
    io.out(`],${JSON.stringify(tail).slice(1)}`);
  };
  return {
    sink: {
      begin: (c) => {
        columns = c;
        io.out(`{"columns":${JSON.stringify(columns)},"rows":[`);
      },
      rows: (rows) => {
        const lines = rows.map((r) => JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, r[i]]))));
        if (held !== null) lines.unshift(held);
        held = lines.pop()!;
        if (lines.length) io.out(lines.map((l) => `${l},`).join('\n'));
        return drained(io);
      },
    },
    end: (s) => close({ truncated: s.truncated !== null, ...(s.truncated ? { truncatedBy: s.truncated } : {}) }),
    fail: (err) => close({ truncated: true, error: (err as Error).message }),
  };
}

/** Rows kept for formatTable (bounded by the row and byte caps). */
export function tableOutput(io: Io, format: (columns: string[], rows: unknown[][]) => string): SqlOutput {
  let columns: string[] = [];
  const rows: unknown[][] = [];
  return {
    sink: {
      begin: (c) => void (columns = c),
      rows: (chunk) => {
        for (const r of chunk) rows.push(r);
      },
    },
    end: (s) => {
      io.out(format(columns, rows));
      io.out(`(${rows.length} row${rows.length === 1 ? '' : 's'}${s.truncated ? `, truncated at ${rows.length}` : ''})`);
    },
    fail: () => undefined,
  };
}
