/**
 * `portsync report [--json] [--limit N]`: the common analytics (slowest ports, failure rate per
 * port, builds and build time per day, time per phase, what each run did), as tables.
 */
import { parseArgs } from 'node:util';
import { ANALYTICS, type AnalyticsName } from '../builddb/analytics.js';
import { locate, openReadApi } from '../server/access.js';
import { NoDatabaseError } from '../server/errors.js';
import type { CommandContext } from './commands.js';
import { printJson } from './io.js';
import { formatTable, rowObjects } from './sql.js';

const SECTIONS: [AnalyticsName, string][] = [
  ['slowest', 'Slowest ports (successful builds)'],
  ['failureRate', 'Failure rate per port'],
  ['buildsPerDay', 'Builds and build time per day (UTC)'],
  ['phaseTime', 'Time per phase'],
  ['runs', 'What each run did (latest first)'],
];

export async function runReport(ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({ args: ctx.argv, options: { json: { type: 'boolean' }, limit: { type: 'string' } }, allowPositionals: false });
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  const api = await openReadApi(await locate(ctx.configFile));
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
      ctx.io.out(`${title}:`);
      ctx.io.out(r.rows.length ? formatTable(r.columns, r.rows) : '  (nothing recorded yet)');
      ctx.io.out('');
    }
    if (values.json) printJson(ctx.io, out);
    return 0;
  } finally {
    await api.close();
  }
}
