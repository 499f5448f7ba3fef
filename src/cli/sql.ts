/**
 * `portsync sql QUERY [--json|--csv]`: read-only SQL over the build database, through the daemon
 * when one runs (it holds the database), else on the file opened read-only. Within SQL_LIMITS;
 * `--json` and `--csv` are printed as the rows arrive. Exit 0, 2 on SQL error.
 */
import Table from 'cli-table3';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BuildDB } from '../builddb/db.js';
import { streamUserSql, truncationNotice, type SqlSink, type SqlSummary } from '../builddb/sqlStream.js';
import { PortsyncError } from '../errors.js';
import { locate, type Located } from '../server/access.js';
import { daemonRequest } from '../server/client.js';
import { NoDatabaseError } from '../server/errors.js';
import { SQL_LIMITS } from '../server/queries.js';
import { streamSqlFromDaemon } from '../server/sqlClient.js';
import type { CommandContext } from './commands.js';
import { cell, csvLine, csvOutput, jsonOutput, tableOutput, type SqlOutput } from './sqlOutput.js';

/** `sql` was called without a query, or with both --json and --csv. */
export class SqlUsageError extends PortsyncError {
  constructor(detail: string) {
    super(`${detail}\nusage: portsync sql QUERY [--json|--csv]`);
  }
}

/** An aligned text table (cli-table3, no colours). */
export function formatTable(columns: string[], rows: unknown[][]): string {
  const t = new Table({ head: columns, style: { head: [], border: [], compact: true } });
  for (const r of rows) t.push(r.map(cell));
  return t.toString();
}

/** RFC 4180 CSV with a header line. */
export function formatCsv(columns: string[], rows: unknown[][]): string {
  return [columns, ...rows].map(csvLine).join('\n');
}

export function rowObjects(columns: string[], rows: unknown[][]): Record<string, unknown>[] {
  return rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]])));
}

/** Runs the query where the database is: the daemon's socket when it answers, else the file read-only. */
async function runQuery(loc: Located, query: string, sink: SqlSink): Promise<SqlSummary & { notice?: string | null }> {
  const probe = await daemonRequest(loc.socket, 'GET', '/runs?limit=1');
  if (probe && probe.status === 200) return streamSqlFromDaemon(loc.socket, query, sink);
  if (!existsSync(loc.database)) throw new NoDatabaseError(loc.database);
  const db = await BuildDB.open(loc.database, { readOnly: true });
  try {
    return await streamUserSql(db, query, SQL_LIMITS, sink);
  } finally {
    await db.close();
  }
}

export async function runSql(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: ctx.argv, options: { json: { type: 'boolean' }, csv: { type: 'boolean' } }, allowPositionals: true });
  if (values.json && values.csv) throw new SqlUsageError('choose one of --json and --csv');
  const query = positionals.join(' ').trim();
  if (!query) throw new SqlUsageError('no query given');
  const out: SqlOutput = values.json ? jsonOutput(ctx.io) : values.csv ? csvOutput(ctx.io) : tableOutput(ctx.io, formatTable);
  let began = false;
  const sink: SqlSink = {
    begin: (columns) => {
      began = true;
      return out.sink.begin(columns);
    },
    rows: (rows, json) => out.sink.rows(rows, json),
  };
  let r;
  try {
    r = await runQuery(await locate(ctx.configFile), query, sink);
  } catch (err) {
    if (began) out.fail(err);
    throw err;
  }
  out.end(r);
  const notice = r.notice ?? truncationNotice(r, SQL_LIMITS);
  if (notice) ctx.io.err(`portsync sql: ${notice}`);
  return 0;
}
