/** `portsync cleanup`: removes stale worker directories safely (never through a mount). Exit 0. */
import { loadDesiredState } from '../config/load.js';
import { environmentBackend } from '../builder/sandbox/index.js';
import { defineCommand } from './command.js';

export const cleanup = defineCommand({
  name: 'cleanup',
  summary: 'remove stale worker directories safely',
  options: {},
  description: `Removes the worker directories under paths.buildBase that a killed run left behind: unmounts what is still mounted in them first, never deletes through a mount and never follows a symbolic link out of the workers directory. A directory whose build still runs is kept. Passes do this by themselves when they start; this is for a machine where none will run soon.`,
  exits: [['0', 'done (what could not be removed is listed on stderr, with what to do)'], ['2', 'invalid builds.yaml']],
  async run(ctx) {
    const state = await loadDesiredState(ctx.configFile);
    const report = await environmentBackend(state.environment.backend).cleanupStale(state.paths.buildBase);
    for (const m of report.unmounted) ctx.io.out(`unmounted ${m}`);
    for (const r of report.removed) ctx.io.out(`removed ${r}`);
    for (const a of report.active) ctx.io.out(`kept ${a} (its build is still running)`);
    for (const f of report.refused) ctx.io.err(`refused ${f.path}: ${f.mountpoint} is still mounted (${f.reason}); unmount it by hand, then run cleanup again`);
    ctx.io.out(`cleanup: ${report.removed.length} removed, ${report.active.length} active, ${report.refused.length} refused`);
    return 0;
  },
});
