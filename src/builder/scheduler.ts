/**
 * The scheduler: runs the plan's builds on a Piscina pool. A port starts as soon as all of its
 * dependencies are done (no head-of-line blocking), the ready port with most ports waiting on
 * it first. When it is ready, the rebuild decision is made again with what its dependencies
 * turned out to be: a `pending` port whose rebuilt dependencies produced the same result is cut
 * off (skipped) without using a worker. A failure blocks only what depends on it. Every build is
 * recorded on the main thread (DuckDB handles stay here) through the fail-safe database.
 */
import { join } from 'node:path';
import type { FailSafeBuildDB } from '../builddb/failsafe.js';
import type { PhaseInput } from '../builddb/types.js';
import type { DesiredState } from '../config/types.js';
import { waitingCounts, ReadyQueue } from '../graph/order.js';
import { cutoffReason, decide, settleDependencies, type SettledDependency } from '../reconcile/decide.js';
import type { Plan, PlannedPort } from '../reconcile/plan.js';
import { packagesToInstall } from '../graph/installs.js';
import { packageCheckCache, packageVerifier } from '../fingerprint/packageCheck.js';
import { environmentBackend } from './sandbox/index.js';
import { logPath, startBuildLog, trimBuildLogs } from './logFiles.js';
import { publishedPackage } from '../repository/layout.js';
import { PHASES, type MakeCall } from './phases.js';
import type { Progress } from './progress.js';
import { limitsNotice, type BuildTaskResult, type TaskEvent } from './task.js';
import { LocalExecutor, type BuildExecutor, type ExecutorTask } from './executor.js';
import { limitsFor } from '../config/selectors.js';
import { reportingOutcomes, type PortOutcome } from './outcomes.js';
import { UP_TO_DATE_LIST, upToDateLine } from './summary.js';
import type { PhaseInfo } from '../reconcile/observers.js';

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

/** "CRC match, skipped" lines printed per pass; the others are counted. */
export const SKIPPED_LINES = 20;

export const reasonLine = (p: Pick<PlannedPort, 'reasons'>) => p.reasons.map((r) => `${r.kind}: ${r.detail}`).join('; ');

export async function runBuilds(opts: ScheduleOptions): Promise<PortOutcome[]> {
  const { plan, db, progress } = opts;
  const state: DesiredState = plan.observation.state;
  const graph = plan.observation.graph;
  const fetchOnly = opts.fetchOnly ?? false;
  const record = !fetchOnly;
  const outcomes = reportingOutcomes(opts.onOutcome);
  const planned = new Map(plan.ports.map((p) => [p.origin, p]));
  // Ports to build, and ports whose decision waits for their dependencies' packages.
  const work = new Set(plan.ports.filter((p) => p.action === 'build' || p.action === 'pending').map((p) => p.origin));
  /** What the dependencies that were decided in this pass turned out to be. */
  const settled = new Map<string, SettledDependency>();
  const built = new Set<string>();

  let upToDate = 0;
  for (const p of plan.ports) {
    if (work.has(p.origin)) continue;
    const status = p.action === 'skip' ? 'skipped' : (p.action as 'ignored' | 'blocked');
    const current = status === 'skipped' && !p.suspended;
    outcomes.set(p.origin, {
      origin: p.origin,
      pkgname: p.pkgname,
      version: p.version,
      status,
      reason: reasonLine(p),
      ...(current ? { upToDate: true } : {}),
    });
    if (current && ++upToDate <= SKIPPED_LINES) progress.line(upToDateLine(p));
  }
  // A whole tree is 10,000 such lines per pass: the rest are counted, and listed in the summary lists.
  if (upToDate > SKIPPED_LINES) {
    progress.line(
      `... and ${upToDate - SKIPPED_LINES} more up to date (CRC match, skipped)${record ? `: every one is listed in ${join(state.paths.logs, UP_TO_DATE_LIST)}` : ''}`,
    );
  }
  if (work.size === 0) return plan.ports.map((p) => outcomes.get(p.origin)!);

  const counts = waitingCounts(graph, work);
  const pending = new Map<string, number>();
  const ready = new ReadyQueue(counts);
  for (const o of work) {
    const n = fetchOnly ? 0 : graph.depsOf(o).filter((d) => work.has(d)).length;
    pending.set(o, n);
    if (n === 0) ready.push(o);
  }

  // Worker directories a killed run left behind (its owner is gone) are removed before new ones are made.
  const stale = await environmentBackend(state.environment.backend).cleanupStale(state.paths.buildBase);
  if (stale.removed.length)
    progress.line(
      `removed ${stale.removed.length} stale worker director${stale.removed.length === 1 ? 'y' : 'ies'} left by an earlier run`,
    );
  for (const r of stale.refused) progress.line(`warning: left ${r.path} in place: ${r.reason}`);
  const notice = limitsNotice(state); // limits this machine cannot enforce: said once per pass (issue 9)
  if (notice) progress.line(notice);

  const verifier = packageVerifier(packageCheckCache(state.paths.buildBase));
  const executor = opts.executor
    ? await opts.executor(work.size, progress.line.bind(progress))
    : new LocalExecutor(Math.max(1, state.workers), work.size, progress.line.bind(progress));
  const workers = executor.slots;
  const freeSlots = Array.from({ length: workers }, (_, i) => workers - 1 - i);
  /** Ports being built, by origin: how to interrupt them. */
  const running = new Map<string, AbortController>();
  const cancelAll = () => {
    for (const build of running.values()) build.abort();
    wake();
  };
  opts.signal?.addEventListener('abort', cancelAll, { once: true });
  const paths = {
    portsTree: plan.observation.tree,
    distfiles: state.paths.distfiles,
    packages: opts.packages ?? state.paths.packages,
    buildBase: state.paths.buildBase,
  };
  const phases: string[] = fetchOnly ? ['fetch', 'checksum'] : [...PHASES];
  let wake: () => void = () => {};

  const block = (failed: string, why: string) => {
    for (const d of graph.dependentsOf([failed])) {
      if (!work.has(d) || outcomes.has(d)) continue;
      const p = planned.get(d)!;
      outcomes.set(d, { origin: d, pkgname: p.pkgname, version: p.version, status: 'blocked', reason: `dependency ${failed} ${why}` });
      progress.portFinished(-1, d, 'blocked', `dependency ${failed} ${why}`);
    }
  };

  /** A port is done (built or cut off): its dependents in the work set may become ready. */
  const release = (origin: string) => {
    for (const r of graph.node(origin).rdeps) {
      if (!work.has(r) || outcomes.has(r)) continue;
      const left = pending.get(r)! - 1;
      pending.set(r, left);
      if (left === 0) ready.push(r);
    }
  };

  /**
   * The decision again, now that every dependency is settled: build (with its final key), cut
   * off, or blocked because it failed at exactly these inputs before.
   */
  const decideNow = (
    p: PlannedPort,
  ): { build: true; key: string; parts: NonNullable<PlannedPort['keyParts']>; reason: string } | { build: false } => {
    if (fetchOnly) return { build: true, key: p.buildKey ?? '', parts: p.keyParts!, reason: reasonLine(p) };
    const parts = settleDependencies(p.keyParts!, settled);
    const d = decide({
      parts,
      known: plan.known.get(p.origin),
      cascade: plan.cascade,
      pkgExists: p.pkgExists ?? false,
      ...(p.pkgIntact !== undefined ? { pkgIntact: p.pkgIntact } : {}),
      pkgfile: p.pkgfile ?? '',
      forced: p.forced ?? false,
    });
    if (d.action === 'build' && d.key) return { build: true, key: d.key, parts, reason: reasonLine({ reasons: d.reasons }) };
    if (d.action === 'skip') {
      const deps = graph.depsOf(p.origin).sort();
      const reason = cutoffReason(
        deps.filter((dep) => built.has(dep)),
        deps.filter((dep) => settled.has(dep) && !built.has(dep)),
        plan.cascade,
      );
      outcomes.set(p.origin, {
        origin: p.origin,
        pkgname: p.pkgname,
        version: p.version,
        status: 'skipped',
        reason: `${reason.kind}: ${reason.detail}`,
        cutoff: true,
      });
      settled.set(p.origin, { key: d.key, package: plan.known.get(p.origin)?.package ?? null });
      progress.line(`${p.origin}@${p.version} (skipped: ${reason.detail})`);
      release(p.origin);
      return { build: false };
    }
    const why =
      d.action === 'blocked'
        ? d.reasons.map((r) => r.detail).join('; ')
        : `internal: still ${d.action} after its dependencies were settled`;
    outcomes.set(p.origin, { origin: p.origin, pkgname: p.pkgname, version: p.version, status: 'blocked', reason: why });
    progress.portFinished(-1, p.origin, 'blocked', why);
    block(p.origin, 'is blocked');
    return { build: false };
  };

  const start = async (origin: string, slot: number, key: string, parts: NonNullable<PlannedPort['keyParts']>, reason: string) => {
    const p = planned.get(origin)!;
    const meta = graph.node(origin).port!.meta;
    // Each build has a log of its own, named after its id (logFiles.ts); a fetch-only run, one per port.
    const firstId = crypto.randomUUID();
    const log = record ? startBuildLog(state.paths.logs, origin, firstId) : logPath(state.paths.logs, origin, 'fetch');
    const startRecord = (buildId?: string) =>
      db.startBuild({
        ...(buildId ? { buildId } : {}),
        runId: opts.runId,
        origin,
        pkgname: p.pkgname,
        version: p.version,
        crc: p.crc!,
        buildKey: key,
        keyParts: parts,
        logPath: log,
        reason,
        trigger: opts.trigger,
      });
    let buildId = record ? await startRecord(firstId) : firstId;
    const installs = (fetchOnly ? [] : packagesToInstall(graph, origin)).map((d) => {
      const m = graph.node(d).port!.meta;
      // The checksum recorded when it was built (in this pass or before): a replaced package is never installed.
      const checksum = (settled.get(d)?.package ?? plan.known.get(d)?.package)?.checksum;
      return { pkgname: m.pkgname, pkgfile: m.pkgfile, ...(checksum ? { checksum } : {}) };
    });
    const make: MakeCall = {
      command: state.make.command,
      env: state.make.env,
      vars: { ...state.make.vars, ...meta.vars },
      makeJobs: state.makeJobs,
    };
    const interrupt = new AbortController();
    running.set(origin, interrupt);
    if (opts.signal?.aborted) interrupt.abort();
    const task: ExecutorTask = {
      origin,
      dir: meta.dir,
      flavor: meta.flavors.length ? meta.flavor : '',
      pkgname: p.pkgname,
      version: p.version,
      pkgfile: meta.pkgfile,
      buildId,
      buildKey: key,
      backend: state.environment.backend,
      slot,
      paths,
      make,
      phases,
      installs,
      limits: limitsFor(state.limits, plan.observation.selected, origin, meta.flavors),
      logPath: log, // its own limits (issue 9)
      waiting: counts.get(origin) ?? 0,
    };
    // Records of one build are written in the order its events came (a remote build's retry starts a new record).
    let writes: Promise<unknown> = Promise.resolve();
    const write = (op: () => Promise<unknown>) => {
      writes = writes.then(op);
    };
    /** Phases that ended while the database was busy: one statement for them all (a remote build's come in bursts). */
    let phaseBatch: PhaseInput[] | undefined;
    const onEvent = (e: TaskEvent) => {
      if (e.type === 'phase-start') progress.phase(slot, origin, e.phase);
      else if (e.type === 'phase-end') {
        opts.onPhase?.({ origin, phase: e.phase, durationMs: e.durationMs, exitCode: e.exitCode });
        if (record && !phaseBatch) {
          const batch: PhaseInput[] = (phaseBatch = []);
          write(() => {
            if (phaseBatch === batch) phaseBatch = undefined;
            return db.recordPhases(buildId, batch);
          });
        }
        phaseBatch?.push({ phase: e.phase, startedAt: new Date(e.startedAt), durationMs: e.durationMs, exitCode: e.exitCode });
      } else if (e.type === 'host') {
        progress.phase(slot, origin, `on ${e.host}`);
        if (record) write(() => db.setBuildHost(buildId, e.host));
      } else if (e.type === 'retry') {
        // A remote attempt was lost (its agent died or stopped answering): it is recorded interrupted, and the next attempt is a build of its own.
        progress.line(`${origin}: ${e.reason}`);
        phaseBatch = undefined; // the lost attempt's phases are written under its own record, the next attempt's under the new one
        if (record)
          write(async () => {
            await db.finishBuild(buildId, 'interrupted', { finishedAt: new Date(), lastPhase: e.lastPhase ?? null, error: e.reason });
            buildId = await startRecord();
          });
      }
    };
    progress.portStarted(slot, origin);
    const result: BuildTaskResult = await executor.run(task, onEvent, interrupt.signal);
    await writes;
    if (record) {
      await db.finishBuild(buildId, result.status, {
        finishedAt: new Date(),
        lastPhase: result.lastPhase,
        error: result.error ?? null,
        package: result.package ?? null,
        usage: result.usage ?? null,
      });
      if (result.status === 'success') {
        await db.recordSuccess(origin, {
          crc: p.crc!,
          buildKey: key,
          keyParts: parts,
          version: p.version,
          buildId,
          pkgfile: meta.pkgfile,
          pkgname: p.pkgname,
          package: result.package ?? null,
        });
        // Just published and hashed: the next plan need not hash it again to trust it.
        // (It is in the pass's staging copy until the pass publishes it: remembered by the path it will have.)
        if (result.package?.checksum)
          verifier.remember(
            publishedPackage(state.paths.packages, meta.pkgfile),
            result.package.checksum,
            join(paths.packages, 'All', meta.pkgfile),
          );
      } else if (result.status === 'failed' && !result.transient) {
        await db.recordFailure(origin, key, buildId);
      }
      trimLogs(origin);
    }
    const outcome: PortOutcome = {
      origin,
      pkgname: p.pkgname,
      version: p.version,
      status: result.status,
      reason,
      buildId,
      lastPhase: result.lastPhase,
      durationMs: result.durationMs,
      logPath: log,
      ...(result.error ? { error: result.error } : {}),
      ...(result.transient ? { transient: true } : {}),
    };
    outcomes.set(origin, outcome);
    progress.portFinished(
      slot,
      origin,
      result.status,
      result.status === 'success' ? `${(result.durationMs / 1000).toFixed(1)}s` : result.error,
    );
    if (fetchOnly) return;
    if (result.status === 'success') {
      built.add(origin);
      settled.set(origin, { key, package: result.package ?? null });
      release(origin);
    } else {
      block(origin, result.status === 'interrupted' ? 'was interrupted' : `failed in ${result.lastPhase}`);
    }
  };

  /** The port's build logs beyond logs.keep go (the newest stay: this build's among them). */
  const trimLogs = (origin: string) => {
    try {
      trimBuildLogs(state.paths.logs, origin, state.logs.keep);
    } catch (e) {
      progress.line(`warning: could not remove old build logs of ${origin}: ${(e as Error).message} (portsync cleanup tries again)`);
    }
  };

  progress.start(work.size, workers, executor.description);
  let active = 0;
  try {
    while (true) {
      while (!opts.signal?.aborted && ready.size && freeSlots.length) {
        const origin = ready.pop()!;
        if (outcomes.has(origin)) continue;
        const decision = decideNow(planned.get(origin)!);
        if (!decision.build) continue;
        const slot = freeSlots.pop()!;
        active++;
        void start(origin, slot, decision.key, decision.parts, decision.reason)
          .catch((e: unknown) => {
            const p = planned.get(origin)!;
            const error = `internal error: ${(e as Error)?.message ?? e}`;
            outcomes.set(origin, {
              origin,
              pkgname: p.pkgname,
              version: p.version,
              status: 'failed',
              reason: reasonLine(p),
              error,
              transient: true,
            });
            progress.portFinished(slot, origin, 'failed', error);
            block(origin, 'failed');
          })
          .finally(() => {
            running.delete(origin);
            active--;
            freeSlots.push(slot);
            wake();
          });
      }
      if (active === 0) break;
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  } finally {
    opts.signal?.removeEventListener('abort', cancelAll);
    try {
      verifier.save();
    } catch (e) {
      progress.line(
        `warning: could not save ${packageCheckCache(state.paths.buildBase)}: ${(e as Error).message} (packages are hashed again next time)`,
      );
    }
    await executor.close();
    progress.stop();
  }
  // Anything never started (stopped by a signal) is interrupted for this pass.
  for (const o of work) {
    if (outcomes.has(o)) continue;
    const p = planned.get(o)!;
    outcomes.set(o, {
      origin: o,
      pkgname: p.pkgname,
      version: p.version,
      status: 'interrupted',
      reason: 'not started: the pass was stopped',
    });
  }
  return plan.ports.map((p) => outcomes.get(p.origin)!);
}
