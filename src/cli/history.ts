/** `portsync history ORIGIN [--json] [--wide]`: that port's builds, newest first. */
import { locate, openClient } from '../client/index.js';
import { defineCommand, WIDE_OPTION } from './command.js';
import { printJson } from './io.js';
import { formatTable } from './table.js';

export const history = defineCommand({
  name: 'history',
  summary: "that port's builds, newest first",
  args: [{ name: 'ORIGIN', kind: 'origin', description: 'the port: category/name or category/name@flavor' }],
  options: {
    json: { description: 'print {"origin":…,"builds":[…]} with every recorded field' },
    wide: WIDE_OPTION,
  },
  description: `Lists every recorded build attempt of ORIGIN, newest first: when it started (UTC), its status (running, success, failed, interrupted), the version, how long it took, the last phase it reached, what triggered the run, why it was built (or why it failed) and its build id (for portsync sql and portsync logs --build); with --wide, the path of its log (every build keeps its own).

Reads through the running daemon when there is one, else the build database read-only.`,
  exits: [
    ['0', 'always (a port never built prints "no builds recorded")'],
    ['2', 'bad usage or an unreadable database'],
  ],
  examples: [['portsync history devel/libalpha', 'the builds of devel/libalpha']],
  async run(ctx, { values, args }) {
    const origin = args[0]!;
    const api = await openClient(await locate(ctx.configFile));
    try {
      const builds = await api.history(origin);
      if (values.json) {
        printJson(ctx.io, { origin, builds });
        return 0;
      }
      if (!builds.length) {
        ctx.io.out(`${origin}: no builds recorded`);
        return 0;
      }
      // Each build's own log (kept per build): a column with --wide, else how to print one.
      const rows = builds.map((b) => [
        b.startedAt,
        b.status,
        b.version ?? '',
        b.durationMs === null ? '' : `${(b.durationMs / 1000).toFixed(1)}s`,
        b.lastPhase ?? '',
        b.trigger ?? '',
        b.reason ?? b.error ?? '',
        b.buildId,
        ...(values.wide ? [b.logPath ?? ''] : []),
      ]);
      ctx.io.out(
        formatTable(
          ['started (UTC)', 'status', 'version', 'took', 'last phase', 'trigger', 'why', 'build id', ...(values.wide ? ['log'] : [])],
          rows,
          { columns: ctx.io.columns, wide: values.wide },
        ),
      );
      if (!values.wide) ctx.io.out(`a build's log: portsync logs ${origin} --build BUILD-ID (--wide lists each log's path)`);
      return 0;
    } finally {
      await api.close();
    }
  },
});
