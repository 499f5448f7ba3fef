/**
 * `portsync sql QUERY [--json|--csv|--wide]`: read-only SQL over the build database, through the daemon
 * when one runs (it holds the database), else on the file opened read-only. Within SQL_LIMITS;
 * `--json` and `--csv` are printed as the rows arrive. Exit 0, 2 on SQL error.
 */
import { truncationNotice, type SqlSink, type SqlSummary } from '../builddb/sqlStream.js';
import { locate, openClient, type Located } from '../client/index.js';
import { SQL_LIMITS } from '../server/queries.js';
import { defineCommand, WIDE_OPTION } from './command.js';
import { csvOutput, jsonOutput, tableOutput, type SqlOutput } from './sqlOutput.js';
import { formatTable } from './table.js';

/** Runs the query where the database is: the daemon's socket when it answers, else the file read-only. */
async function runQuery(loc: Located, query: string, sink: SqlSink): Promise<SqlSummary & { notice?: string | null }> {
  const client = await openClient(loc);
  try {
    return await client.streamSql(query, sink);
  } finally {
    await client.close();
  }
}

const mib = (bytes: number) => `${bytes / 2 ** 20} MiB`;

export const sql = defineCommand({
  name: 'sql',
  summary: 'read-only SQL over the build database',
  args: [{ name: 'QUERY', kind: 'text', repeat: true, description: 'one SELECT-like statement (quote it; words are joined with spaces)' }],
  options: {
    json: { description: 'print {"columns": […], "rows": [{…}, …], "truncated": false}, one row object per line, as rows arrive' },
    csv: { description: 'print RFC 4180 CSV with a header line, as rows arrive' },
    wide: WIDE_OPTION,
  },
  description: `Runs QUERY over the build database (DuckDB): tables builds, build_phases, port_state, runs and file_sets (see README: "The build database"). Only one read-only statement is accepted: no writes, no SET or PRAGMA, no file access.

While \`portsync watch\` runs, the query goes to the daemon, which holds the database; otherwise the file is opened read-only. Limits: ${SQL_LIMITS.maxRows} rows or ${mib(SQL_LIMITS.maxBytes)} of output (a cut result says so on stderr), ${SQL_LIMITS.timeoutMs / 1000} s, ${mib(SQL_LIMITS.memoryLimitBytes)} of memory plus ${mib(SQL_LIMITS.tempLimitBytes)} of spill; going over the time or memory limit is an error naming the limit.

Without --json or --csv the result is a table fitted to the terminal (timestamps in UTC).`,
  exits: [
    ['0', 'the query ran (also when its result was cut at a limit)'],
    ['2', 'no database yet, a SQL error, a refused statement, or a limit hit'],
  ],
  examples: [
    ['portsync sql "SELECT origin, avg(duration_ms) FROM builds GROUP BY 1"', 'the average build time of every port'],
    ['portsync sql --csv "SELECT * FROM runs" > runs.csv', 'every run, as CSV'],
  ],
  async run(ctx, { values, args, usageError }) {
    if (values.json && values.csv) throw usageError('choose one of --json and --csv', '--csv');
    const query = args.join(' ').trim();
    if (!query) throw usageError('the query is empty');
    const out: SqlOutput = values.json
      ? jsonOutput(ctx.io)
      : values.csv
        ? csvOutput(ctx.io)
        : tableOutput(ctx.io, (c, r) => formatTable(c, r, { columns: ctx.io.columns, wide: values.wide }));
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
  },
});
