/** `portsync sql QUERY [--json|--csv]`: read-only SQL over the build database. Exit 0, 2 on SQL error. */
import Table from 'cli-table3';
import { parseArgs } from 'node:util';
import { locate, openReadApi } from '../server/access.js';
import { PortsyncError } from '../errors.js';
import type { CommandContext } from './commands.js';
import { printJson } from './io.js';

/** `sql` was called without a query, or with both --json and --csv. */
export class SqlUsageError extends PortsyncError {
  constructor(detail: string) {
    super(`${detail}\nusage: portsync sql QUERY [--json|--csv]`);
  }
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** An aligned text table (cli-table3, no colours). */
export function formatTable(columns: string[], rows: unknown[][]): string {
  const t = new Table({ head: columns, style: { head: [], border: [], compact: true } });
  for (const r of rows) t.push(r.map(cell));
  return t.toString();
}

function csvField(v: unknown): string {
  const s = cell(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** RFC 4180 CSV with a header line. */
export function formatCsv(columns: string[], rows: unknown[][]): string {
  return [columns, ...rows].map((r) => r.map(csvField).join(',')).join('\n');
}

export function rowObjects(columns: string[], rows: unknown[][]): Record<string, unknown>[] {
  return rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]])));
}

export async function runSql(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: ctx.argv, options: { json: { type: 'boolean' }, csv: { type: 'boolean' } }, allowPositionals: true });
  if (values.json && values.csv) throw new SqlUsageError('choose one of --json and --csv');
  const query = positionals.join(' ').trim();
  if (!query) throw new SqlUsageError('no query given');
  const api = await openReadApi(await locate(ctx.configFile));
  try {
    const r = await api.sql(query);
    if (values.json) printJson(ctx.io, { columns: r.columns, rows: rowObjects(r.columns, r.rows), truncated: r.truncated });
    else if (values.csv) ctx.io.out(formatCsv(r.columns, r.rows));
    else {
      ctx.io.out(formatTable(r.columns, r.rows));
      ctx.io.out(`(${r.rows.length} row${r.rows.length === 1 ? '' : 's'}${r.truncated ? `, truncated at ${r.rows.length}` : ''})`);
    }
    if (r.truncated) ctx.io.err(`portsync sql: only the first ${r.rows.length} rows are shown; add a LIMIT or aggregate`);
    return 0;
  } finally {
    await api.close();
  }
}
