/**
 * `portsync reconcile [--json] [--force ORIGIN...] [--dry-run]`: one pass.
 * Exit 0 all good, 1 a port failed or was blocked, 2 error; 130/143 when stopped by SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { loadDesiredState } from '../config/load.js';
import { sourceFor } from '../reconcile/source.js';
import { progressFor } from '../build/progress.js';
import { reconcilePass } from '../reconcile/pass.js';
import { reconcileJson, type ReconcileJson } from '../reconcile/result-json.js';
import type { CommandContext } from './commands.js';
import { printJson, type Io } from './io.js';
import { runPlan } from './plan.js';
import { daemonRequest } from '../server/client.js';
import { DaemonRequestError } from '../server/errors.js';

export async function runReconcile(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: ctx.argv,
    options: { json: { type: 'boolean' }, force: { type: 'string', multiple: true }, 'dry-run': { type: 'boolean' }, trigger: { type: 'string' } },
    allowPositionals: true,
  });
  // `--force a b c`: origins after --force's first value come as positionals.
  const force = [...(values.force ?? []), ...positionals];
  if (values['dry-run']) return runPlan({ ...ctx, argv: values.json ? ['--json'] : [] });
  const state = await loadDesiredState(ctx.configFile);
  // A running daemon holds the database: the pass is its to run.
  const viaDaemon = await daemonRequest(state.server.socket, 'POST', '/reconcile', { force, wait: true });
  if (viaDaemon) {
    if (viaDaemon.status >= 300) throw new DaemonRequestError(state.server.socket, '/reconcile', viaDaemon.status, JSON.stringify(viaDaemon.body));
    const result = viaDaemon.body as ReconcileJson;
    if (values.json) printJson(ctx.io, result);
    else {
      ctx.io.out(`reconciled by the running daemon (${state.server.socket})`);
      printSummary(ctx.io, result);
    }
    return result.status === 'success' ? 0 : 1;
  }
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stoppedBy) return;
    stoppedBy = sig;
    ctx.io.err(`portsync: ${sig}: stopping — no new ports start, running builds are killed and recorded as interrupted`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const progress = values.json ? progressFor({ isTTY: false } as NodeJS.WriteStream, ctx.io.err) : progressFor(process.stdout, ctx.io.out);
    const source = await sourceFor(state);
    const result = await reconcilePass(source.state, { trigger: values.trigger ?? 'manual', force, progress, log: ctx.io.err, signal: stop.signal, tree: source.tree, ...(source.gitCommit ? { gitCommit: source.gitCommit } : {}) });
    if (values.json) printJson(ctx.io, reconcileJson(result));
    else printSummary(ctx.io, reconcileJson(result));
    if (stoppedBy) return stoppedBy === 'SIGINT' ? 130 : 143;
    return result.status === 'success' ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function printSummary(io: Io, r: ReconcileJson): void {
  const groups: [string, string][] = [['failed', 'Failed'], ['blocked', 'Blocked'], ['interrupted', 'Interrupted'], ['ignored', 'Ignored'], ['success', 'Built']];
  for (const [status, title] of groups) {
    const list = r.ports.filter((p) => p.status === status);
    if (!list.length) continue;
    io.out(`${title} (${list.length}):`);
    for (const p of list) io.out(`  ${p.origin}${p.pkgname ? ` ${p.pkgname}` : ''}${status === 'success' ? '' : `: ${p.error ?? p.reason}`}${p.log && status === 'failed' ? ` (log: ${p.log})` : ''}`);
  }
  const s = r.stats;
  io.out(`run ${r.runId}: ${s.total} ports: ${s.success} built, ${s.failed} failed, ${s.skipped} skipped, ${s.ignored} ignored, ${s.blocked} blocked${s.interrupted ? `, ${s.interrupted} interrupted` : ''} in ${(s.durationMs / 1000).toFixed(1)}s`);
}
