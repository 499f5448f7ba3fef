/**
 * The scheduler: runs the plan's builds on an executor (the local Piscina pool, or agents). A
 * port starts as soon as all of its dependencies are done (no head-of-line blocking), the ready
 * port with most ports waiting on it first (schedule.ts). When it is ready, the rebuild decision
 * is made again with what its dependencies turned out to be: a `pending` port whose rebuilt
 * dependencies produced the same result is cut off (skipped) without using a worker. A failure
 * blocks only what depends on it.
 *
 * It schedules and dispatches, nothing more: recording to the database, the progress display,
 * the outcome list and the package checks are observers of its run (runObserver.ts).
 */
import type { FailSafeBuildDB } from '../builddb/failsafe.js';
import { newId } from '../builddb/ids.js';
import type { DesiredState } from '../config/types.js';
import { waitingCounts } from '../graph/order.js';
import {
  cutoffReason,
  decide,
  KeyPartsNotReadError,
  settleDependencies,
  type KnownPortState,
  type SettledDependency,
} from '../reconcile/decide.js';
import { keyPartsReader, readKeyParts } from '../reconcile/known.js';
import type { BuildKeyParts } from '../fingerprint/types.js';
import { isPlannedWork, type Plan, type PlannedPort, type PlannedWork } from '../reconcile/plan.js';
import { packagesToInstall } from '../graph/installs.js';
import { environmentBackend } from './sandbox/index.js';
import { logPath, startBuildLog } from './logFiles.js';
import { PHASES, type MakeCall } from './phases.js';
import type { Progress } from './progress.js';
import { limitsNotice, type TaskEvent } from './task.js';
import { LocalExecutor, type BuildExecutor, type ExecutorTask } from './executor.js';
import { limitsFor } from '../config/selectors.js';
import type { PortOutcome } from './outcomes.js';
import type { PhaseInfo } from '../reconcile/observers.js';
import { BuildSchedule, NO_EDGES, scheduleGraph } from './schedule.js';
import { RunObservers, type RunningBuild } from './runObserver.js';
import { OutcomeList, passCallbacks } from './outcomeObservers.js';
import { BuildRecorder } from './recording.js';
import { PackageMemory } from './packageMemory.js';
import { ProgressObserver } from './progressObserver.js';

export interface ScheduleOptions {
  plan: Plan;
  db: FailSafeBuildDB;
  runId: string;
  trigger: string;
  progress: Progress;
  /** Aborting stops starting ports and interrupts the running ones. */
  signal?: AbortSignal;
  /** Fetch-only: fetch and checksum every port, in any order, nothing installed or recorded. */
  fetchOnly?: boolean;
  /** Told each port's outcome as soon as it is known, and each finished build phase (the pass's observers). */
  onOutcome?: (outcome: PortOutcome) => void;
  onPhase?: (phase: PhaseInfo) => void;
  /** Where the builds run (made once there is something to build); default: the local worker pool (`workers` threads). */
  executor?: ExecutorFactory;
  /** The repository builds install from and write into: the pass's staging copy (src/repository/staging.ts); default paths.packages. */
  packages?: string;
}

/** Makes the pass's executor; `builds`: how many ports the pass may build. */
export type ExecutorFactory = (builds: number, warn: (line: string) => void) => Promise<BuildExecutor>;

export const reasonLine = (p: Pick<PlannedPort, 'reasons'>) => p.reasons.map((r) => `${r.kind}: ${r.detail}`).join('; ');

/** What a ready port turned out to need, now that its dependencies are settled. */
type Decision =
  | { kind: 'build'; key: string; parts: BuildKeyParts; reason: string }
  | { kind: 'cutoff'; outcome: PortOutcome; settled: SettledDependency }
  | { kind: 'blocked'; outcome: PortOutcome };

/** The outcome of a port the plan decided without a build (skip, ignored, blocked). */
function plannedOutcome(p: PlannedPort): PortOutcome {
  const status = p.action === 'skip' ? 'skipped' : (p.action as 'ignored' | 'blocked');
  const current = status === 'skipped' && !p.suspended;
  return {
    origin: p.origin,
    pkgname: p.pkgname,
    version: p.version,
    status,
    reason: reasonLine(p),
    ...(current ? { upToDate: true } : {}),
  };
}

export async function runBuilds(opts: ScheduleOptions): Promise<PortOutcome[]> {
  const { plan, db } = opts;
  const state: DesiredState = plan.observation.state;
  const graph = plan.observation.graph;
  const fetchOnly = opts.fetchOnly ?? false;
  const record = !fetchOnly;
  // Ports to build, and ports whose decision waits for their dependencies' packages.
  const planned = new Map(plan.ports.filter(isPlannedWork).map((p) => [p.origin, p]));
  const paths = {
    portsTree: plan.observation.tree,
    distfiles: state.paths.distfiles,
    packages: opts.packages ?? state.paths.packages,
    buildBase: state.paths.buildBase,
  };
  const outcomes = new OutcomeList();
  const say = (line: string) => observers.tell('notice', line);
  const observers: RunObservers = new RunObservers([
    outcomes,
    passCallbacks(opts.onOutcome, opts.onPhase),
    ...(record
      ? [
          new BuildRecorder({
            db,
            runId: opts.runId,
            trigger: opts.trigger,
            logs: { dir: state.paths.logs, keep: state.logs.keep },
            warn: say,
          }),
        ]
      : []),
    new PackageMemory({ buildBase: state.paths.buildBase, packages: state.paths.packages }, say),
    new ProgressObserver(opts.progress, record ? state.paths.logs : undefined),
  ]);

  const work = new Set(planned.keys());
  for (const p of plan.ports) if (!work.has(p.origin)) observers.tell('portFinished', plannedOutcome(p), -1);
  observers.tell('planReported');
  if (work.size === 0) return outcomes.inOrder(plan.ports);

  const counts = waitingCounts(graph, work);
  const schedule = new BuildSchedule(fetchOnly ? NO_EDGES : scheduleGraph(graph), work, counts);
  /** What the dependencies that were decided in this pass turned out to be. */
  const settled = new Map<string, SettledDependency>();
  const built = new Set<string>();

  // Worker directories a killed run left behind (its owner is gone) are removed before new ones are made.
  const stale = await environmentBackend(state.environment.backend).cleanupStale(state.paths.buildBase);
  if (stale.removed.length)
    say(`removed ${stale.removed.length} stale worker director${stale.removed.length === 1 ? 'y' : 'ies'} left by an earlier run`);
  for (const r of stale.refused) say(`warning: left ${r.path} in place: ${r.reason}`);
  const notice = limitsNotice(state); // limits this machine cannot enforce: said once per pass (issue 9)
  if (notice) say(notice);

  const executor = opts.executor ? await opts.executor(work.size, say) : new LocalExecutor(Math.max(1, state.workers), work.size, say);
  const freeSlots = Array.from({ length: executor.slots }, (_, i) => executor.slots - 1 - i);
  /** Ports being built, by origin: how to interrupt them. */
  const running = new Map<string, AbortController>();
  let wake: () => void = () => {};
  const cancelAll = () => {
    for (const build of running.values()) build.abort();
    wake();
  };
  opts.signal?.addEventListener('abort', cancelAll, { once: true });
  const phases: string[] = fetchOnly ? ['fetch', 'checksum'] : [...PHASES];

  /** The port failed or cannot be built: what depends on it and has not started is blocked. */
  const blockDependents = (failed: string, why: string) => {
    for (const d of schedule.failed(failed)) {
      const p = planned.get(d)!;
      const reason = `dependency ${failed} ${why}`;
      observers.tell('portFinished', { origin: d, pkgname: p.pkgname, version: p.version, status: 'blocked', reason }, -1);
    }
  };

  // The states the plan read; key parts (left out of a whole tree's read) are read as decisions compare them.
  const known = new Map(plan.known);
  const readParts = keyPartsReader(opts.db);
  const decideNow = async (p: PlannedWork): Promise<Decision> => {
    try {
      return decideAgain(p, plan, known, { settled, built, fetchOnly });
    } catch (e) {
      if (!(e instanceof KeyPartsNotReadError)) throw e;
      for (const [origin, k] of await readKeyParts(known, [p.origin], readParts)) known.set(origin, k);
      return decideAgain(p, plan, known, { settled, built, fetchOnly });
    }
  };
  const taskFor = (b: RunningBuild) => buildTask(b, plan, { settled, fetchOnly, paths, phases, waiting: counts.get(b.origin) ?? 0 });

  const buildPort = async (origin: string, slot: number, d: Extract<Decision, { kind: 'build' }>) => {
    const p = planned.get(origin)!;
    // Each build has a log of its own, named after its id (logFiles.ts); a fetch-only run, one per port.
    const buildId = newId(); // time-ordered, as the database names builds
    const log = record ? startBuildLog(state.paths.logs, origin, buildId) : logPath(state.paths.logs, origin, 'fetch');
    const b: RunningBuild = {
      origin,
      pkgname: p.pkgname,
      version: p.version,
      crc: p.crc,
      pkgfile: graph.node(origin).port!.meta.pkgfile,
      packages: paths.packages,
      slot,
      buildKey: d.key,
      keyParts: d.parts,
      reason: d.reason,
      logPath: log,
      buildId,
    };
    const task = taskFor(b);
    const interrupt = new AbortController();
    running.set(origin, interrupt);
    if (opts.signal?.aborted) interrupt.abort();
    const onEvent = (e: TaskEvent) => {
      if (e.type !== 'retry') return observers.tell('phase', b, e);
      // A remote attempt was lost (its agent died or stopped answering): the next attempt is a build of its own.
      const lost = { buildId: b.buildId, reason: e.reason, ...(e.lastPhase !== undefined ? { lastPhase: e.lastPhase } : {}) };
      b.buildId = newId(); // as the database names a build it is given no id for
      observers.tell('attemptLost', b, lost);
    };
    observers.tell('portStarted', b);
    const result = await executor.run(task, onEvent, interrupt.signal);
    await observers.settle('buildFinished', b, result);
    const outcome: PortOutcome = {
      origin,
      pkgname: p.pkgname,
      version: p.version,
      status: result.status,
      reason: d.reason,
      buildId: b.buildId,
      lastPhase: result.lastPhase,
      durationMs: result.durationMs,
      logPath: log,
      ...(result.error ? { error: result.error } : {}),
      ...(result.transient ? { transient: true } : {}),
    };
    observers.tell('portFinished', outcome, slot);
    if (result.status === 'success') {
      built.add(origin);
      settled.set(origin, { key: d.key, package: result.package ?? null });
      schedule.succeeded(origin);
    } else {
      blockDependents(origin, result.status === 'interrupted' ? 'was interrupted' : `failed in ${result.lastPhase}`);
    }
  };

  observers.tell('buildsStarting', work.size, executor.slots, executor.description);
  try {
    while (true) {
      while (!opts.signal?.aborted && freeSlots.length) {
        const origin = schedule.next();
        if (origin === undefined) break;
        const d = await decideNow(planned.get(origin)!);
        if (d.kind === 'cutoff') {
          settled.set(origin, d.settled);
          observers.tell('portFinished', d.outcome, -1);
          schedule.succeeded(origin);
          continue;
        }
        if (d.kind === 'blocked') {
          observers.tell('portFinished', d.outcome, -1);
          blockDependents(origin, 'is blocked');
          continue;
        }
        const slot = freeSlots.pop()!;
        void buildPort(origin, slot, d)
          .catch((e: unknown) => {
            const p = planned.get(origin)!;
            const error = `internal error: ${(e as Error)?.message ?? e}`;
            const outcome: PortOutcome = {
              origin,
              pkgname: p.pkgname,
              version: p.version,
              status: 'failed',
              reason: reasonLine(p),
              error,
              transient: true,
            };
            observers.tell('portFinished', outcome, slot);
            if (schedule.stateOf(origin) === 'running') blockDependents(origin, 'failed');
          })
          .finally(() => {
            running.delete(origin);
            freeSlots.push(slot);
            wake();
          });
      }
      if (schedule.running === 0) break;
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  } finally {
    opts.signal?.removeEventListener('abort', cancelAll);
    await executor.close();
    await observers.settle('passEnd');
  }
  // Anything never started (stopped by a signal) is interrupted for this pass.
  for (const o of schedule.notStarted()) {
    const p = planned.get(o)!;
    observers.tell(
      'portFinished',
      { origin: o, pkgname: p.pkgname, version: p.version, status: 'interrupted', reason: 'not started: the pass was stopped' },
      -1,
    );
  }
  return outcomes.inOrder(plan.ports);
}

/** What the pass learnt so far of the ports it decided: what each turned out to be, and which were built. */
interface Settled {
  settled: ReadonlyMap<string, SettledDependency>;
  built: ReadonlySet<string>;
  fetchOnly: boolean;
}

/**
 * The decision again, now that every dependency is settled: build (with its final key), cut off,
 * or blocked because it failed at exactly these inputs before.
 */
function decideAgain(
  p: PlannedWork,
  plan: Plan,
  known: ReadonlyMap<string, KnownPortState>,
  { settled, built, fetchOnly }: Settled,
): Decision {
  if (fetchOnly) return { kind: 'build', key: p.buildKey ?? '', parts: p.keyParts, reason: reasonLine(p) };
  const parts = settleDependencies(p.keyParts, settled);
  const d = decide({
    parts,
    known: known.get(p.origin),
    cascade: plan.cascade,
    pkgExists: p.pkgExists,
    ...(p.pkgIntact !== undefined ? { pkgIntact: p.pkgIntact } : {}),
    pkgfile: p.pkgfile,
    forced: p.forced,
  });
  const port = { origin: p.origin, pkgname: p.pkgname, version: p.version };
  if (d.action === 'build' && d.key) return { kind: 'build', key: d.key, parts, reason: reasonLine({ reasons: d.reasons }) };
  if (d.action === 'skip') {
    const deps = plan.observation.graph.depsOf(p.origin).sort();
    const reason = cutoffReason(
      deps.filter((dep) => built.has(dep)),
      deps.filter((dep) => settled.has(dep) && !built.has(dep)),
      plan.cascade,
    );
    return {
      kind: 'cutoff',
      outcome: { ...port, status: 'skipped', reason: `${reason.kind}: ${reason.detail}`, cutoff: true },
      settled: { key: d.key, package: known.get(p.origin)?.package ?? null },
    };
  }
  const why =
    d.action === 'blocked' ? d.reasons.map((r) => r.detail).join('; ') : `internal: still ${d.action} after its dependencies were settled`;
  return { kind: 'blocked', outcome: { ...port, status: 'blocked', reason: why } };
}

/** What the executor runs for a build. */
function buildTask(
  b: RunningBuild,
  plan: Plan,
  ctx: Pick<Settled, 'settled' | 'fetchOnly'> & { paths: ExecutorTask['paths']; phases: string[]; waiting: number },
): ExecutorTask {
  const { state, graph } = plan.observation;
  const meta = graph.node(b.origin).port!.meta;
  const installs = (ctx.fetchOnly ? [] : packagesToInstall(graph, b.origin)).map((d) => {
    const m = graph.node(d).port!.meta;
    // The checksum recorded when it was built (in this pass or before): a replaced package is never installed.
    const checksum = (ctx.settled.get(d)?.package ?? plan.known.get(d)?.package)?.checksum;
    return { pkgname: m.pkgname, pkgfile: m.pkgfile, ...(checksum ? { checksum } : {}) };
  });
  const make: MakeCall = {
    command: state.make.command,
    env: state.make.env,
    vars: { ...state.make.vars, ...meta.vars },
    makeJobs: state.makeJobs,
  };
  return {
    origin: b.origin,
    dir: meta.dir,
    flavor: meta.flavors.length ? meta.flavor : '',
    pkgname: b.pkgname,
    version: b.version,
    pkgfile: meta.pkgfile,
    buildId: b.buildId,
    buildKey: b.buildKey,
    backend: state.environment.backend,
    slot: b.slot,
    paths: ctx.paths,
    make,
    phases: ctx.phases,
    installs,
    limits: limitsFor(state.limits, plan.observation.selected, b.origin, meta.flavors),
    logPath: b.logPath, // its own limits (issue 9)
    waiting: ctx.waiting,
  };
}
