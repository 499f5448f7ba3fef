/**
 * `portsync report [--json] [--limit N] [--wide]`: the common analytics (slowest ports, failure
 * rate per port, builds and build time per day, time per phase, what each run did), as tables.
 */
import { ANALYTICS, type AnalyticsName } from '../builddb/analytics.js';
import { locate, openClient } from '../client/index.js';
import { NoDatabaseError } from '../client/errors.js';
import { defineCommand, WIDE_OPTION } from './command.js';
import { printJson } from './io.js';
import { formatTable, rowObjects } from './table.js';

const SECTIONS: [AnalyticsName, string][] = [
  ['slowest', 'Slowest ports (successful builds)'],
  ['failureRate', 'Failure rate per port'],
  ['buildsPerDay', 'Builds and build time per day (UTC)'],
  ['phaseTime', 'Time per phase'],
  ['runs', 'What each run did (latest first)'],
];

const DEFAULT_LIMIT = 20;

/** A UTC day as the database gives it (midnight, `2026-01-02T00:00:00.000Z`) → `2026-01-02`. */
const asDate = (v: unknown) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T00:00:00(\.0+)?Z$/.test(v) ? v.slice(0, 10) : v);

export const report = defineCommand({
  name: 'report',
  summary: 'build analytics: slowest ports, failure rate, builds per day, time per phase, runs',
  options: {
    json: {
      description:
        'print every section as JSON: {"slowest": […], "failureRate": […], "buildsPerDay": […], "phaseTime": […], "runs": […]}, a row object per row',
    },
    limit: {
      value: 'N',
      kind: 'count',
      description: `rows at most in the slowest, failure rate and runs sections (default ${DEFAULT_LIMIT})`,
    },
    wide: WIDE_OPTION,
  },
  description: `Five tables over the whole build history: the slowest ports (average, median and longest successful build, ms), the ports that fail most often (with their last failure), builds, outcomes and build hours per UTC day, where build time goes per phase, and what each of the latest runs did (trigger, commit, counts, duration).

The same questions as SQL are in src/builddb/analytics.ts; portsync sql answers any other. Reads through the running daemon when there is one, else the build database read-only.`,
  exits: [
    ['0', 'always (before the first reconcile it says there is no database yet)'],
    ['2', 'bad usage or an unreadable database'],
  ],
  async run(ctx, { values }) {
    const limit = values.limit === undefined ? DEFAULT_LIMIT : Number(values.limit);
    const api = await openClient(await locate(ctx.configFile));
    try {
      const out: Record<string, Record<string, unknown>[]> = {};
      for (const [name, title] of SECTIONS) {
        let r;
        try {
          r = await api.sql(ANALYTICS[name]({ limit }));
        } catch (err) {
          if (!(err instanceof NoDatabaseError)) throw err;
          ctx.io.out(`${err.message}`);
          return 0;
        }
        out[name] = rowObjects(r.columns, r.rows);
        if (values.json) continue;
        const rows = name === 'buildsPerDay' ? r.rows.map((row) => row.map((v, i) => (r.columns[i] === 'day' ? asDate(v) : v))) : r.rows;
        ctx.io.out(`${title}:`);
        ctx.io.out(rows.length ? formatTable(r.columns, rows, { columns: ctx.io.columns, wide: values.wide }) : '  (nothing recorded yet)');
        ctx.io.out('');
      }
      if (values.json) printJson(ctx.io, out);
      return 0;
    } finally {
      await api.close();
    }
  },
});
