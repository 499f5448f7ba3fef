/** `portsync suspend ORIGIN...` and `portsync resume ORIGIN...`: set or remove `suspend: true` in builds.yaml (and commit it in commit mode). */
import { readFileSync, statSync, chmodSync } from 'node:fs';
import { writeFileAtomic } from '../atomicWrite.js';
import { loadDesiredState } from '../config/load.js';
import { setSuspended, type SuspendChange } from '../config/suspend.js';
import { commitConfig, configRepository } from '../reconcile/commitConfig.js';
import { UnknownOriginError } from '../reconcile/errors.js';
import { observe } from '../reconcile/observe.js';
import { sourceFor } from '../reconcile/source.js';
import { defineCommand, type CommandContext } from './command.js';

const ORIGIN_ARG = {
  name: 'ORIGIN',
  kind: 'origin',
  repeat: true,
  description: "the ports: category/name or category/name@flavor, each in the closure of builds.yaml's ports",
} as const;
const exits = [
  ['0', 'done (also when nothing had to change)'],
  ['2', 'an ORIGIN not in the desired state, invalid builds.yaml, or (commit mode) builds.yaml not committable'],
] as const;

export const suspend = defineCommand({
  name: 'suspend',
  summary: 'keep ports as they are: never built, never pruned (sets suspend: true in builds.yaml)',
  args: [ORIGIN_ARG],
  options: {},
  description: `Sets \`suspend: true\` on each port's entry of builds.yaml's ports: (a plain origin becomes { origin: X, suspend: true }; a port chosen by a glob or needed as a dependency gets an entry of its own). A suspended port keeps its package as it is: no pass builds or prunes it, and status shows it suspended, until \`portsync resume\`.

Only the entry's text changes: comments and formatting of builds.yaml stay as they are. The daemon sees the change by itself. In commit mode (portsTree.source: commit) the change is committed — builds.yaml alone, on portsTree.branch, which must be checked out, with no other change to builds.yaml — because passes read the committed builds.yaml; push it when portsync follows a remote.`,
  exits,
  examples: [['portsync suspend www/firefox', 'keep firefox at its current package while its build is broken upstream']],
  run: (ctx, { args }) => setPorts(ctx, args, true),
});

export const resume = defineCommand({
  name: 'resume',
  summary: 'resume suspended ports (removes suspend: true from builds.yaml)',
  args: [ORIGIN_ARG],
  options: {},
  description: `Removes \`suspend: true\` from each port's entry of builds.yaml (an entry left with its origin alone becomes the plain origin again): the next pass builds the port again when it drifted. Comments and formatting stay as they are; in commit mode the change is committed as \`portsync suspend\` does.`,
  exits,
  examples: [['portsync resume www/firefox', 'build firefox again']],
  run: (ctx, { args }) => setPorts(ctx, args, false),
});

async function setPorts(ctx: CommandContext, origins: readonly string[], on: boolean): Promise<number> {
  const verb = on ? 'suspend' : 'resume';
  const disk = await loadDesiredState(ctx.configFile);
  // Each origin must be a port of the desired state (a typo must not add an entry that selects nothing).
  const { state, tree } = await sourceFor(disk);
  const obs = await observe(state, { tree });
  const canonical = (o: string) => obs.scan.resolve(o) ?? o;
  for (const o of origins) if (!obs.graph.nodes.has(canonical(o))) throw new UnknownOriginError(o);
  const repo = disk.portsTree.source === 'commit' ? await configRepository(disk.file, disk.portsTree.branch) : null;
  const before = readFileSync(disk.file, 'utf8');
  let text = before;
  const changes = new Map<string, SuspendChange>();
  for (const o of origins) {
    const r = setSuspended(text, disk.file, o, on, (pattern) => pattern === o || canonical(pattern) === canonical(o));
    text = r.text;
    changes.set(o, r.change);
  }
  for (const [o, c] of changes) {
    ctx.io.out(
      c === 'unchanged'
        ? `${o} is ${on ? 'already suspended' : 'not suspended'}`
        : `${o} ${on ? 'suspended' : 'resumed'}${c === 'added' ? ' (a new entry in ports:)' : ''}`,
    );
  }
  if (text === before) return 0;
  const mode = statSync(disk.file).mode & 0o7777;
  writeFileAtomic(disk.file, text);
  chmodSync(disk.file, mode);
  // What was written must still be a valid builds.yaml: otherwise it is put back as it was.
  try {
    await loadDesiredState(disk.file);
  } catch (err) {
    writeFileAtomic(disk.file, before);
    chmodSync(disk.file, mode);
    throw err;
  }
  const changed = [...changes].filter(([, c]) => c !== 'unchanged').map(([o]) => o);
  if (disk.portsTree.source !== 'commit') return 0;
  if (!repo) {
    ctx.io.err(
      `warning: ${disk.file} is in no git repository: not committed (commit mode reads builds.yaml from the tree's commits only when it is in that repository)`,
    );
    return 0;
  }
  const subject = `portsync ${verb} ${changed.join(' ')}`;
  const body = on
    ? `Keep ${changed.join(', ')} as ${changed.length > 1 ? 'they are' : 'it is'}: never built, never pruned, until \`portsync resume\`.`
    : `Build ${changed.join(', ')} again when ${changed.length > 1 ? 'they drift' : 'it drifts'} (suspend: true removed).`;
  const commit = await commitConfig(repo, subject, body);
  ctx.io.out(`committed ${commit.slice(0, 12)} on ${disk.portsTree.branch}: ${subject}`);
  return 0;
}
