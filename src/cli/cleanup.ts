/** `portsync cleanup`: removes stale worker directories safely (never through a mount). Exit 0. */
import { loadDesiredState } from '../config/load.js';
import { environmentBackend } from '../build/env/index.js';
import type { CommandContext } from './commands.js';

export async function runCleanup(ctx: CommandContext): Promise<number> {
  const state = await loadDesiredState(ctx.configFile);
  const report = await environmentBackend(state.environment.backend).cleanupStale(state.paths.buildBase);
  for (const m of report.unmounted) ctx.io.out(`unmounted ${m}`);
  for (const r of report.removed) ctx.io.out(`removed ${r}`);
  for (const a of report.active) ctx.io.out(`kept ${a} (its build is still running)`);
  for (const f of report.refused) ctx.io.err(`refused ${f.path}: ${f.mountpoint} is still mounted (${f.reason}); unmount it by hand, then run cleanup again`);
  ctx.io.out(`cleanup: ${report.removed.length} removed, ${report.active.length} active, ${report.refused.length} refused`);
  return 0;
}
