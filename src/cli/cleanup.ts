/**
 * `portsync cleanup [--distfiles] [--dry-run]`: removes what passes leave behind — stale worker
 * directories (never through a mount), build logs beyond logs.keep per port, a killed pass's
 * staging copy and snapshots beyond repository.keep — and with --distfiles the distfiles no
 * desired port uses. Exit 0.
 */
import { loadDesiredState } from '../config/load.js';
import type { DesiredState } from '../config/types.js';
import { formatBytes } from '../builddb/sqlErrors.js';
import { environmentBackend } from '../builder/sandbox/index.js';
import { loggedPorts, trimBuildLogs } from '../builder/logFiles.js';
import { acquirePassLock, PassRunningError } from '../reconcile/passLock.js';
import { listSnapshots } from '../repository/snapshots.js';
import { leftoverStaging, removeLeftoverStaging } from '../repository/staging.js';
import { trimSnapshots } from '../repository/snapshots.js';
import { observe } from '../reconcile/observe.js';
import { sourceFor } from '../reconcile/source.js';
import { purgeDistfiles, referencedDistfiles } from '../reconcile/purgeDistfiles.js';
import { defineCommand, type CommandContext } from './command.js';

export const cleanup = defineCommand({
  name: 'cleanup',
  summary: 'remove stale worker directories, old build logs and snapshots (and unused distfiles)',
  options: {
    distfiles: {
      description:
        'also remove the distfiles no port of the desired state uses (reads the tree: DISTFILES and distinfo of the whole closure)',
    },
    'dry-run': { description: 'remove nothing: list what would be removed (worker directories are not looked at)' },
  },
  description: `Removes what passes leave behind:

- worker directories under paths.buildBase that a killed run left: what is still mounted in them is unmounted first; it never deletes through a mount and never follows a symbolic link out of the workers directory; a directory whose build still runs is kept;
- build logs beyond logs.keep (default 5) per port, oldest first — never a port's latest;
- in the repository, a staging copy a killed pass left and snapshots beyond repository.keep (never the published one); skipped while a pass runs;
- with --distfiles, every file of paths.distfiles that no port of the desired state (builds.yaml's ports, what they need, suspended ones included) names in its DISTFILES or distinfo, then the directories left empty (dsynth's purge-distfiles). Each file is listed with its size, then the bytes freed.

Passes clean their own workers, their staging copies and the logs of the ports they build; this is for the rest, and for a machine where no pass will run soon.`,
  exits: [
    ['0', 'done (what could not be removed is listed on stderr, with what to do)'],
    ['2', 'invalid builds.yaml'],
  ],
  examples: [
    ['portsync cleanup', 'workers, old logs and snapshots'],
    ['portsync cleanup --distfiles --dry-run', 'which distfiles no desired port uses, and how many bytes they take'],
  ],
  async run(ctx, { values }) {
    const state = await loadDesiredState(ctx.configFile);
    const dryRun = values['dry-run'] ?? false;
    const would = dryRun ? 'would remove' : 'removed';
    if (!dryRun) await cleanWorkers(ctx, state);
    cleanLogs(ctx, state, dryRun, would);
    await cleanRepository(ctx, state, dryRun, would);
    if (values.distfiles) await cleanDistfiles(ctx, state, dryRun, would);
    return 0;
  },
});

async function cleanWorkers(ctx: CommandContext, state: DesiredState): Promise<void> {
  const report = await environmentBackend(state.environment.backend).cleanupStale(state.paths.buildBase);
  for (const m of report.unmounted) ctx.io.out(`unmounted ${m}`);
  for (const r of report.removed) ctx.io.out(`removed ${r}`);
  for (const a of report.active) ctx.io.out(`kept ${a} (its build is still running)`);
  for (const f of report.refused)
    ctx.io.err(`refused ${f.path}: ${f.mountpoint} is still mounted (${f.reason}); unmount it by hand, then run cleanup again`);
  ctx.io.out(`cleanup: ${report.removed.length} removed, ${report.active.length} active, ${report.refused.length} refused`);
}

function cleanLogs(ctx: CommandContext, state: DesiredState, dryRun: boolean, would: string): void {
  let files = 0;
  let bytes = 0;
  for (const origin of loggedPorts(state.paths.logs).sort()) {
    try {
      for (const f of trimBuildLogs(state.paths.logs, origin, state.logs.keep, { dryRun })) {
        ctx.io.out(`${would} ${f.path} (${formatBytes(f.bytes)})`);
        files++;
        bytes += f.bytes;
      }
    } catch (e) {
      ctx.io.err(`could not remove old logs of ${origin}: ${(e as Error).message}`);
    }
  }
  ctx.io.out(
    `cleanup logs: ${files} build log${files === 1 ? '' : 's'} beyond logs.keep (${state.logs.keep} per port) ${dryRun ? 'would be ' : ''}removed, ${formatBytes(bytes)}`,
  );
}

async function cleanRepository(ctx: CommandContext, state: DesiredState, dryRun: boolean, would: string): Promise<void> {
  const packages = state.paths.packages;
  if (dryRun) {
    // Listing needs no lock: nothing changes.
    for (const s of leftoverStaging(packages)) ctx.io.out(`${would} ${s} (a staging copy, unless a pass is using it)`);
    const all = listSnapshots(packages);
    const keep = new Set(all.slice(-state.repository.keep).map((s) => s.id));
    for (const s of all) if (!keep.has(s.id) && !s.published) ctx.io.out(`${would} snapshot ${s.dir}`);
    return;
  }
  let lock;
  try {
    lock = await acquirePassLock(state.paths.buildBase, 'portsync cleanup');
  } catch (e) {
    if (!(e instanceof PassRunningError)) throw e;
    ctx.io.out(
      `cleanup repository: a pass is running (${e.holder.pid ? `pid ${e.holder.pid}` : 'another process'}): its staging copy and the snapshots are left as they are`,
    );
    return;
  }
  try {
    const staging = await removeLeftoverStaging(packages);
    for (const s of staging) ctx.io.out(`${would} ${s} (a staging copy a killed pass left)`);
    const snapshots = trimSnapshots(packages, state.repository.keep);
    for (const id of snapshots) ctx.io.out(`${would} snapshot ${id} (beyond repository.keep: ${state.repository.keep})`);
    ctx.io.out(
      `cleanup repository: ${staging.length} staging cop${staging.length === 1 ? 'y' : 'ies'} and ${snapshots.length} snapshot${snapshots.length === 1 ? '' : 's'} removed`,
    );
  } finally {
    lock.release();
  }
}

async function cleanDistfiles(ctx: CommandContext, loaded: DesiredState, dryRun: boolean, would: string): Promise<void> {
  const { state, tree } = await sourceFor(loaded);
  const obs = await observe(state, { tree });
  const { names, unread } = referencedDistfiles(obs.graph, obs.tree);
  if (unread.length) {
    ctx.io.err(
      `warning: ${unread.length} port${unread.length === 1 ? '' : 's'} of the desired state could not be read (${unread.slice(0, 5).join(', ')}${unread.length > 5 ? ', …' : ''}): their distfiles are not known, and are removed if no other port uses them (they can be fetched again)`,
    );
  }
  const r = purgeDistfiles(state.paths.distfiles, names, { dryRun });
  for (const f of r.removed) ctx.io.out(`${would} ${state.paths.distfiles}/${f.name} (${formatBytes(f.bytes)})`);
  for (const f of r.failed) ctx.io.err(`could not remove ${state.paths.distfiles}/${f.name}: ${f.error}`);
  const freed = r.removed.reduce((n, f) => n + f.bytes, 0);
  ctx.io.out(
    `cleanup distfiles: ${r.removed.length} file${r.removed.length === 1 ? '' : 's'} no desired port uses ${dryRun ? 'would be removed' : 'removed'}, ${formatBytes(freed)} ${dryRun ? 'would be ' : ''}freed; ${r.kept} kept`,
  );
}
