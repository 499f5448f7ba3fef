/** `portsync status [--json] [--wide] [ORIGIN...]`: the daemon's state (when one runs), and every port of the desired state versus what is built. */
import { formatDuration } from '../config/duration.js';
import { resolvePassSource } from '../reconcile/source.js';
import { locate, openClient, type Located } from '../client/index.js';
import { desiredStatus, type DesiredPort, type DesiredStatus } from '../server/desired.js';
import type { PortStatus } from '../server/queries.js';
import type { StatusJson } from '../server/status.js';
import { defineCommand, WIDE_OPTION } from './command.js';
import { printJson, type Io } from './io.js';
import { formatTable, shortCommit, shortTime } from './table.js';

/** Orphan packages listed one by one in the text output; the rest are counted. */
const ORPHANS_LISTED = 20;

export const status = defineCommand({
  name: 'status',
  summary: 'every port of the desired state versus what is built, the daemon, the last run',
  args: [
    {
      name: 'ORIGIN',
      kind: 'origin',
      optional: true,
      repeat: true,
      description: 'only these ports (default: every port of the desired state and every port with a recorded build)',
    },
  ],
  options: {
    json: { description: "print the daemon's GET /status document (daemon, config, current pass and its eta, last run, ports, desired)" },
    wide: WIDE_OPTION,
  },
  description: `Says whether the daemon runs (pid, since when, passes, API addresses), whether builds.yaml is valid (its errors as FILE:LINE:COL when not; the daemon keeps the last good state), the pass running now (phase, progress, ports building, and when it should end: an ETA from the recorded build times), what is pending or waiting for a retry, and the last run's counts.

Then every port of the desired state (the ports builds.yaml names and everything they need) as it stands against what is built: in-sync (built at its current inputs, package in the repository), drifted (a pass would build it: why), pending (rebuilt only if a dependency's package changes), building, failed (at its current inputs: the failing phase and its log), blocked (by which dependency, cycle or missing port), ignored (IGNORE set) or suspended (suspend: in builds.yaml) — with its last recorded build. Ports with a recorded build that are no longer desired show as "not desired". Last, the packages of the repository that belong to no desired port (orphans): policy.prune makes a pass remove them.

Answered by the running daemon when there is one (from its current or last pass), else by planning here with the build database read-only (the kept plan when nothing changed); before the first reconcile every port is drifted.`,
  exits: [
    ['0', 'always, also with an invalid builds.yaml or an unreadable tree (status reports them)'],
    ['2', 'bad usage or an unreadable database'],
  ],
  examples: [
    ['portsync status', 'the table of every port'],
    ['portsync status --json | jq \'.desired.ports[] | select(.state=="failed")\'', 'the failed ports, with their logs'],
  ],
  async run(ctx, { values, args }) {
    const loc = await locate(ctx.configFile);
    const api = await openClient(loc);
    let s: StatusJson;
    let rows: readonly PortStatus[];
    try {
      s = await api.status(args);
      rows = api.via === 'daemon' || args.length === 0 ? s.ports : (await api.status([])).ports;
    } finally {
      // Closed before planning here: the plan opens the database (read-only) itself.
      await api.close();
    }
    if (api.via !== 'daemon' && loc.state) {
      try {
        s.desired = await plannedDesired(loc, rows, args);
      } catch (err) {
        s.desired = null;
        s.desiredError = (err as Error).message;
      }
    }
    if (values.json) printJson(ctx.io, s);
    else printStatus(ctx.io, s, values.wide ?? false);
    return 0;
  },
});

/** Desired versus actual without a daemon: what a pass would do now. */
async function plannedDesired(loc: Located, rows: readonly PortStatus[], only: readonly string[]): Promise<DesiredStatus> {
  const { planHere } = await import('./plan.js');
  const { state, tree } = await resolvePassSource(loc.configFile);
  const plan = await planHere(state, tree, []);
  return desiredStatus({ basis: 'plan', ports: plan.ports, rows, repository: state.paths.packages, prune: state.policy.prune, only });
}

const when = (iso: string | null) => (iso ? shortTime(iso) : '');

/** A desired port's state, with what matters of it: the failing phase and log, the dependencies in the way. */
function stateText(p: DesiredPort | undefined): [string, string] {
  if (!p) return ['not desired', 'not in builds.yaml (nor needed by a port in it)'];
  if (p.state === 'failed')
    return ['failed', [p.phase ? `in ${p.phase}` : '', p.log ? `log ${p.log}` : '', p.detail].filter(Boolean).join('; ')];
  if (p.state === 'blocked' && p.blockedBy?.length) {
    // The detail names the port at the bottom of the chain: said once when it is the dependency itself.
    return ['blocked', p.detail.startsWith(`${p.blockedBy[0]}:`) ? `by ${p.detail}` : `by ${p.blockedBy.join(', ')} (${p.detail})`];
  }
  return [p.state, p.state === 'in-sync' ? '' : p.detail];
}

function printStatus(io: Io, s: StatusJson, wide: boolean): void {
  if (s.daemon) {
    io.out(
      `daemon: pid ${s.daemon.pid}, up since ${when(s.daemon.startedAt)} UTC, ${s.daemon.passes} passes, API on ${s.daemon.socket}${s.daemon.listen ? ` and ${s.daemon.listen}` : ''}`,
    );
  } else io.out('daemon: not running');
  if (s.config.errors.length) {
    io.out(`config: ${s.config.file} is invalid${s.daemon ? ` (the daemon keeps the state read at ${when(s.config.lastGoodAt)})` : ''}:`);
    for (const e of s.config.errorText) io.out(`  ${e}`);
  }
  if (s.current) {
    const building = s.current.building.map((b) => `${b.origin} (${b.phase})`).join(', ');
    const eta = s.eta ? `; ETA ${formatDuration(s.eta.remainingMs)} (about ${when(s.eta.finishAt)} UTC)` : '';
    io.out(
      `pass: running since ${when(s.current.startedAt)} (${s.current.trigger}), ${s.current.phase}${s.current.toBuild ? `, ${s.current.done}/${s.current.toBuild} done` : ''}${building ? `; building ${building}` : ''}${eta}`,
    );
  }
  if (s.pending) io.out(`pending: ${s.pending.triggers.join(', ')}`);
  if (s.retry) io.out(`retry: attempt ${s.retry.attempt} at ${when(s.retry.at)}`);
  if (s.lastError) io.out(`last error: ${s.lastError.message}`);
  const r = s.lastRun;
  if (r) {
    io.out(
      `last run: ${r.runId} ${r.status} (${r.trigger}${r.gitCommit ? ` at ${wide ? r.gitCommit : shortCommit(r.gitCommit)}` : ''}) ${when(r.startedAt)}: ${r.total} ports, ${r.success} built, ${r.failed} failed, ${r.skipped} skipped, ${r.ignored} ignored, ${r.blocked} blocked`,
    );
  } else io.out('last run: none recorded');
  if (s.desiredError) io.out(`desired state: cannot be compared: ${s.desiredError}`);
  const d = s.desired;
  if (d) {
    const sum = d.summary;
    io.out(
      `desired state: ${sum.total} ports: ${sum['in-sync']} in sync, ${sum.drifted} drifted, ${sum.pending} pending, ${sum.building} building, ${sum.failed} failed, ` +
        `${sum.blocked} blocked, ${sum.ignored} ignored, ${sum.suspended} suspended${d.basis === 'pass' ? " (as of the daemon's current or last pass)" : ''}`,
    );
  }
  const desired = new Map((d?.ports ?? []).map((p) => [p.origin, p]));
  const recorded = new Map(s.ports.map((p) => [p.origin, p]));
  const origins = [...new Set([...desired.keys(), ...recorded.keys()])].sort();
  if (!origins.length) io.out('ports: none built yet');
  else {
    const rows = origins.map((o) => {
      const p = recorded.get(o);
      const [state, why] = stateText(desired.get(o));
      return [
        o,
        desired.get(o)?.version || p?.version || '',
        p?.lastStatus ?? '',
        d ? state : p?.failedKey ? 'blocked until inputs change' : '',
        why,
        p?.lastFinished ?? p?.lastStarted ?? '',
        p?.lastPhase ?? '',
      ];
    });
    io.out(
      formatTable(['origin', 'version', 'last build', 'state', 'why', 'when (UTC)', 'last phase'], rows, { columns: io.columns, wide }),
    );
  }
  if (d?.orphans.length) {
    io.out(
      d.prune
        ? `to prune (policy.prune; the next pass removes them): ${d.orphans.length} packages of no desired port:`
        : `orphans: ${d.orphans.length} packages of no desired port (policy.prune: true removes them):`,
    );
    for (const o of d.orphans.slice(0, ORPHANS_LISTED)) io.out(`  ${o.pkgfile}: ${o.reason}`);
    if (d.orphans.length > ORPHANS_LISTED) io.out(`  … and ${d.orphans.length - ORPHANS_LISTED} more (--json lists them all)`);
  }
}
