/** `portsync status [--json] [--wide] [ORIGIN...]`: the daemon's state (when one runs) and per-port state. */
import { locate, openReadApi } from '../server/access.js';
import type { StatusJson } from '../server/status.js';
import { defineCommand, WIDE_OPTION } from './command.js';
import { printJson, type Io } from './io.js';
import { formatTable, shortCommit, shortTime } from './table.js';

export const status = defineCommand({
  name: 'status',
  summary: 'the daemon, the last run and every port: state, last build, conditions',
  args: [{ name: 'ORIGIN', kind: 'origin', optional: true, repeat: true, description: 'only these ports (default: every port with a recorded build)' }],
  options: {
    json: { description: 'print the daemon\'s GET /status document (daemon, config, current pass, last run, ports)' },
    wide: WIDE_OPTION,
  },
  description: `Says whether the daemon runs (pid, since when, passes, API addresses), whether builds.yaml is valid (its errors as FILE:LINE:COL when not; the daemon keeps the last good state), the pass running now (phase, progress, ports building), what is pending or waiting for a retry, the last run's counts, and a table of every port: version, last build's status, condition (blocked until its inputs change after a failure), when (UTC) and the last phase.

Answered by the running daemon when there is one, else from the build database read-only; before the first reconcile it says so.`,
  exits: [['0', 'always, also with an invalid builds.yaml (status reports it)'], ['2', 'bad usage or an unreadable database']],
  async run(ctx, { values, args }) {
    const api = await openReadApi(await locate(ctx.configFile));
    try {
      const s = await api.status(args);
      if (values.json) printJson(ctx.io, s);
      else printStatus(ctx.io, s, values.wide ?? false);
      return 0;
    } finally {
      await api.close();
    }
  },
});

const when = (iso: string | null) => (iso ? shortTime(iso) : '');

function printStatus(io: Io, s: StatusJson, wide: boolean): void {
  if (s.daemon) {
    io.out(`daemon: pid ${s.daemon.pid}, up since ${when(s.daemon.startedAt)} UTC, ${s.daemon.passes} passes, API on ${s.daemon.socket}${s.daemon.listen ? ` and ${s.daemon.listen}` : ''}`);
  } else io.out('daemon: not running');
  if (s.config.errors.length) {
    io.out(`config: ${s.config.file} is invalid${s.daemon ? ` (the daemon keeps the state read at ${when(s.config.lastGoodAt)})` : ''}:`);
    for (const e of s.config.errorText) io.out(`  ${e}`);
  }
  if (s.current) {
    const building = s.current.building.map((b) => `${b.origin} (${b.phase})`).join(', ');
    io.out(`pass: running since ${when(s.current.startedAt)} (${s.current.trigger}), ${s.current.phase}${s.current.toBuild ? `, ${s.current.done}/${s.current.toBuild} done` : ''}${building ? `; building ${building}` : ''}`);
  }
  if (s.pending) io.out(`pending: ${s.pending.triggers.join(', ')}`);
  if (s.retry) io.out(`retry: attempt ${s.retry.attempt} at ${when(s.retry.at)}`);
  if (s.lastError) io.out(`last error: ${s.lastError.message}`);
  const r = s.lastRun;
  if (r) {
    io.out(`last run: ${r.runId} ${r.status} (${r.trigger}${r.gitCommit ? ` at ${wide ? r.gitCommit : shortCommit(r.gitCommit)}` : ''}) ${when(r.startedAt)}: ${r.total} ports, ${r.success} built, ${r.failed} failed, ${r.skipped} skipped, ${r.ignored} ignored, ${r.blocked} blocked`);
  } else io.out('last run: none recorded');
  if (!s.ports.length) return io.out('ports: none built yet');
  const rows = s.ports.map((p) => [p.origin, p.version ?? '', p.lastStatus ?? '', p.failedKey ? 'blocked until inputs change' : '', p.lastFinished ?? p.lastStarted ?? '', p.lastPhase ?? '']);
  io.out(formatTable(['origin', 'version', 'last build', 'condition', 'when (UTC)', 'last phase'], rows, { columns: io.columns, wide }));
}
