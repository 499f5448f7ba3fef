/** `portsync watch`: the daemon, until SIGINT/SIGTERM; then it stops cleanly and exits 0. */
import { loadDesiredState } from '../config/load.js';
import { startDaemon } from '../server/daemon.js';
import { defineCommand, type CommandContext } from './command.js';

export const watch = defineCommand({
  name: 'watch',
  summary: 'the daemon: reconciles on every change, serves the API, until SIGINT/SIGTERM',
  options: {},
  description: `Reconciles at start, then on every change: builds.yaml, the tree's git refs and, in worktree mode, every directory of the tree (inotify; polling when the kernel's watch limit is hit, PORTSYNC_MAX_WATCHES=N caps the watches by hand), on portsync trigger, on webhooks (POST /hooks/git on server.listen) and every watch.resyncInterval. Changes closer than watch.debounce make one pass; changes during a pass make exactly one more.

Serves the API on server.socket (and server.listen when set): status, plan, runs, history, SQL, reconcile, trigger. While it runs, plan, why, reconcile, status, sql, history and report go through it. An invalid builds.yaml is reported (log and status) and the last good one stays in force; transient failures are retried with backoff. Logs go to stdout, one timestamped line per event.

SIGINT or SIGTERM: no new passes; a running pass is interrupted and recorded; then exit 0.`,
  exits: [
    ['0', 'stopped by SIGINT or SIGTERM'],
    ['2', 'invalid builds.yaml at start, a daemon already runs, or the API cannot listen'],
  ],
  run: runWatch,
});

async function runWatch(ctx: CommandContext): Promise<number> {
  // At startup there is no last good state to fall back on: an invalid builds.yaml is an error.
  const state = await loadDesiredState(ctx.configFile);
  const log = (line: string) => ctx.io.out(line.startsWith('[') ? line : `[${new Date().toISOString().slice(11, 23)}] ${line}`);
  let stopSignal: (sig: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stopSignal = resolve));
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return log(`${sig}: already stopping`);
    stopping = true;
    stopSignal(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const daemon = await startDaemon({ configFile: ctx.configFile, state, log });
    log(`portsync daemon pid ${process.pid} for ${ctx.configFile}`);
    const sig = await stopped;
    log(`${sig}: stopping — no new passes; a running pass is interrupted and recorded`);
    await daemon.stop();
    log('stopped');
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
