/** `portsync fetch [ORIGIN...]`: fetch and checksum the distfiles of the closure, in parallel. Exit 0, 1 some failed. */
import { parseArgs } from 'node:util';
import { resolvePassSource } from '../reconcile/source.js';
import { progressFor } from '../build/progress.js';
import { reconcilePass } from '../reconcile/pass.js';
import type { CommandContext } from './commands.js';

export async function runFetch(ctx: CommandContext): Promise<number> {
  const { positionals } = parseArgs({ args: ctx.argv, allowPositionals: true });
  const { state: loaded, tree } = await resolvePassSource(ctx.configFile);
  // Fetch-only works on the given origins (or builds.yaml's ports) and forces every one: a
  // distfile may be missing for a port whose package is up to date.
  const state = positionals.length ? { ...loaded, ports: positionals.map((p) => ({ pattern: p, isGlob: /[*?[\]]/.test(p), vars: {}, suspend: false, line: 0, col: 0 })) } : loaded;
  const progress = progressFor(process.stdout, ctx.io.out);
  const result = await reconcilePass(state, { trigger: 'fetch', progress, log: ctx.io.err, fetchOnly: true, tree });
  const failed = result.ports.filter((p) => p.status === 'failed');
  for (const p of failed) ctx.io.out(`fetch failed: ${p.origin}: ${p.error ?? ''} (log: ${p.logPath})`);
  const fetched = result.ports.filter((p) => p.status === 'success').length;
  ctx.io.out(`fetch: ${fetched} ports fetched and checked, ${failed.length} failed, ${result.stats.ignored} ignored`);
  return failed.length || result.stats.blocked ? 1 : 0;
}
