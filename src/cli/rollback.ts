/**
 * `portsync rollback [--to SNAPSHOT] [--list] [--json]`: publishes an earlier snapshot of the
 * repository again — one atomic switch of `<packages>/latest` — or lists the snapshots kept.
 * Exit 0, 2 when there is none to go to or a pass is running.
 */
import { loadDesiredState } from '../config/load.js';
import { acquirePassLock } from '../reconcile/passLock.js';
import { latestLink } from '../repository/layout.js';
import { listSnapshots, rollbackTarget, switchPublished, type Snapshot } from '../repository/snapshots.js';
import { defineCommand, WIDE_OPTION } from './command.js';
import { printJson, type Io } from './io.js';
import { formatTable } from './table.js';

export const rollback = defineCommand({
  name: 'rollback',
  summary: 'publish the previous snapshot of the repository again (or --to one; --list shows them)',
  options: {
    to: {
      value: 'SNAPSHOT',
      kind: 'text',
      description: 'the snapshot to publish: its id (0007-20261127T091432Z) or its number (7); default: the one before the published one',
    },
    list: { description: 'publish nothing: list the snapshots kept, the published one marked' },
    json: { description: 'print the result (or, with --list, the snapshots) as JSON' },
    wide: WIDE_OPTION,
  },
  description: `Every pass that changes a package publishes a new snapshot of the repository (paths.packages): <packages>/latest is a link to <packages>/.snapshots/<id>, switched in one atomic rename, and <packages>/All leads through it. The newest repository.keep snapshots (default 2) are kept. rollback switches latest back to an earlier one, the same way: a client sees the old repository or the restored one, never a mix.

The build database still records the builds of the newer snapshot: the next pass rebuilds the ports whose packages the restored snapshot lacks or has in another version (package-missing, package-changed), unless their inputs changed back. portsync plan shows which. Suspend a port (suspend: true in builds.yaml) to keep its restored package as it is.

rollback changes the repository, so it takes the pass lock: while a pass runs — or the daemon, which holds it for as long as it runs — it is refused.`,
  exits: [
    ['0', 'published (or listed)'],
    ['2', 'no such snapshot, nothing earlier to go back to, or a pass is running'],
  ],
  examples: [
    ['portsync rollback', 'publish the snapshot before the current one'],
    ['portsync rollback --list', 'the snapshots kept'],
    ['portsync rollback --to 7', 'publish snapshot 0007-…'],
  ],
  async run(ctx, { values }) {
    const state = await loadDesiredState(ctx.configFile);
    const packages = state.paths.packages;
    if (values.list) {
      const all = listSnapshots(packages);
      if (values.json) printJson(ctx.io, { packages, snapshots: all.map(snapshotJson) });
      else printList(ctx.io, packages, all, values.wide);
      return 0;
    }
    const lock = await acquirePassLock(state.paths.buildBase, 'portsync rollback');
    try {
      const from = listSnapshots(packages).find((s) => s.published);
      const target = rollbackTarget(packages, values.to);
      if (!target.published) switchPublished(packages, target.id);
      if (values.json) {
        printJson(ctx.io, { packages, from: from?.id ?? null, to: target.id, changed: !target.published });
      } else if (target.published) {
        ctx.io.out(`${target.id} is already the published snapshot of ${packages}; nothing changed`);
      } else {
        ctx.io.out(`rolled back ${latestLink(packages)}: ${from?.id ?? '(none)'} → ${target.id}${describe(target)}`);
        ctx.io.out(
          `the next pass rebuilds what the restored snapshot lacks (portsync plan shows it); suspend a port in builds.yaml to keep its package as it is`,
        );
      }
      return 0;
    } finally {
      lock.release();
    }
  },
});

function describe(s: Snapshot): string {
  const i = s.info;
  if (!i) return '';
  const parts = [`${i.packages} package${i.packages === 1 ? '' : 's'}`, `made ${i.createdAt}`];
  if (i.runId) parts.push(`by run ${i.runId}`);
  if (i.converted) parts.push('from the repository written in place before');
  return ` (${parts.join(', ')})`;
}

function snapshotJson(s: Snapshot) {
  return { id: s.id, number: s.seq, published: s.published, path: s.dir, ...(s.info ? { info: s.info } : {}) };
}

function printList(io: Io, packages: string, all: readonly Snapshot[], wide: boolean | undefined): void {
  if (!all.length) {
    io.out(`${packages}: no snapshots yet (the first pass that builds a package makes one)`);
    return;
  }
  const rows = all.map((s) => [
    s.published ? '*' : '',
    String(s.seq),
    s.id,
    s.info?.createdAt ?? '',
    s.info ? String(s.info.packages) : '',
    s.info?.runId ?? (s.info?.converted ? '(converted)' : ''),
    s.info?.gitCommit ?? '',
  ]);
  io.out(formatTable(['', 'no.', 'snapshot', 'made (UTC)', 'packages', 'run', 'commit'], rows, { columns: io.columns, wide }));
  io.out(`* published: ${latestLink(packages)}`);
}
