/** `portsync status [--json] [ORIGIN...]`: the daemon's state (when one runs) and per-port state. */
import { parseArgs } from 'node:util';
import { locate, openReadApi } from '../server/access.js';
import type { StatusJson } from '../server/status.js';
import type { CommandContext } from './commands.js';
import { printJson, type Io } from './io.js';
import { formatTable } from './sql.js';

export async function runStatus(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: ctx.argv, options: { json: { type: 'boolean' } }, allowPositionals: true });
  const api = await openReadApi(await locate(ctx.configFile));
  try {
    const s = await api.status(positionals);
    if (values.json) printJson(ctx.io, s);
    else printStatus(ctx.io, s);
    return 0;
  } finally {
    await api.close();
  }
}

const when = (iso: string | null) => (iso ? iso.replace('T', ' ').slice(0, 19) : '');

function printStatus(io: Io, s: StatusJson): void {
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
    io.out(`last run: ${r.runId} ${r.status} (${r.trigger}${r.gitCommit ? ` at ${r.gitCommit.slice(0, 12)}` : ''}) ${when(r.startedAt)}: ${r.total} ports, ${r.success} built, ${r.failed} failed, ${r.skipped} skipped, ${r.ignored} ignored, ${r.blocked} blocked`);
  } else io.out('last run: none recorded');
  if (!s.ports.length) return io.out('ports: none built yet');
  const rows = s.ports.map((p) => [p.origin, p.version ?? '', p.lastStatus ?? '', p.failedKey ? 'blocked until inputs change' : '', when(p.lastFinished ?? p.lastStarted), p.lastPhase ?? '']);
  io.out(formatTable(['origin', 'version', 'last build', 'condition', 'when (UTC)', 'last phase'], rows));
}
