/**
 * The scheduler: runs the plan's builds on a Piscina pool. A port starts as soon as all of its
 * dependencies are done (no head-of-line blocking), the ready port with most ports waiting on
 * it first. When it is ready, the rebuild decision is made again with what its dependencies
 * turned out to be: a `pending` port whose rebuilt dependencies produced the same result is cut
 * off (skipped) without using a worker. A failure blocks only what depends on it. Every build is
 * recorded on the main thread (DuckDB handles stay here) through the fail-safe database.
 */
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { FailSafeBuildDB } from '../builddb/failsafe.js';
import type { DesiredState } from '../config/types.js';
import { waitingCounts, ReadyQueue } from '../graph/order.js';
import { cutoffReason, decide, settleDependencies, type SettledDependency } from '../reconcile/decide.js';
import type { Plan, PlannedPort } from '../reconcile/plan.js';
import { packagesToInstall } from '../graph/installs.js';
import { packageCheckCache, packageVerifier } from '../fingerprint/packageCheck.js';
import { environmentBackend } from './sandbox/index.js';
import { logPath } from './log.js';
import { PHASES, type MakeCall } from './phases.js';
import type { Progress } from './progress.js';
import { limitsNotice, type BuildTask, type BuildTaskResult, type TaskEvent } from './task.js';
import { limitsFor } from '../config/selectors.js';
import { reportingOutcomes } from './outcomes.js';
import type { PhaseInfo } from '../reconcile/observers.js';

export type PortStatus = 'success' | 'failed' | 'skipped' | 'ignored' | 'blocked' | 'interrupted';

export interface PortOutcome {
  origin: string;
  pkgname: string;
  version: string;
  status: PortStatus;
  /** One line: why it was built, or why not. */
  reason: string;
  buildId?: string;
  lastPhase?: string;
  error?: string;
  transient?: boolean;
  durationMs?: number;
  logPath?: string;
  /** Skipped because the dependencies that rebuilt produced the same result (early cutoff). */
  cutoff?: boolean;
}

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
}

const WORKER_FILE = new URL('./worker-entry.mjs', import.meta.url).href;

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
    outcomes.set(p.origin, { origin: p.origin, pkgname: p.pkgname, version: p.version, status, reason: reasonLine(p) });
    if (status === 'skipped' && !p.suspended && ++upToDate <= SKIPPED_LINES) progress.line(`${p.origin}@${p.version} (CRC match, skipped)`);
  }
  // A whole tree is 10,000 such lines per pass: the rest are counted, and listed in the summary lists.
  if (upToDate > SKIPPED_LINES) {
    progress.line(`... and ${upToDate - SKIPPED_LINES} more up to date (CRC match, skipped)${record ? `: every port is in ${join(state.paths.logs, '00_last_results.log')}` : ''}`);
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
  if (stale.removed.length) progress.line(`removed ${stale.removed.length} stale worker director${stale.removed.length === 1 ? 'y' : 'ies'} left by an earlier run`);
  for (const r of stale.refused) progress.line(`warning: left ${r.path} in place: ${r.reason}`);
  const notice = limitsNotice(state); // limits this machine cannot enforce: said once per pass (issue 9)
  if (notice) progress.line(notice);

  const verifier = packageVerifier(packageCheckCache(state.paths.buildBase));
  const workers = Math.max(1, state.workers);
  const pool = new Piscina({ filename: WORKER_FILE, minThreads: Math.min(workers, work.size), maxThreads: workers, idleTimeout: 1000 });
  // A worker thread that cannot start (EMFILE, ENOMEM) is an environment fault of this pass, not a
  // crash of the daemon: Piscina reports it as an 'error' event, which must have a listener.
  let poolError: Error | undefined;
  /** Runs handed to the pool: with no worker thread left alive, they would wait for one forever. */
  const waitingRuns = new Set<AbortController>();
  pool.on('error', (err: Error) => {
    if (!poolError) progress.line(`warning: a build worker could not start: ${err.message}`);
    poolError ??= err;
    // No thread at all: nothing is running in one, so giving up on the queued runs stops no build midway.
    if (pool.threads.length === 0) for (const a of waitingRuns) a.abort(err);
  });
  const freeSlots = Array.from({ length: workers }, (_, i) => workers - 1 - i);
  /** Ports being built, by origin: where to send a cancel. */
  const running = new Map<string, MessagePort>();
  const cancelAll = () => {
    for (const port of running.values()) port.postMessage({ type: 'cancel' });
    wake();
  };
  opts.signal?.addEventListener('abort', cancelAll, { once: true });
  const paths = { portsTree: plan.observation.tree, distfiles: state.paths.distfiles, packages: state.paths.packages, buildBase: state.paths.buildBase };
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
  const decideNow = (p: PlannedPort): { build: true; key: string; parts: NonNullable<PlannedPort['keyParts']>; reason: string } | { build: false } => {
    if (fetchOnly) return { build: true, key: p.buildKey ?? '', parts: p.keyParts!, reason: reasonLine(p) };
    const parts = settleDependencies(p.keyParts!, settled);
    const d = decide({ parts, known: plan.known.get(p.origin), cascade: plan.cascade, pkgExists: p.pkgExists ?? false, ...(p.pkgIntact !== undefined ? { pkgIntact: p.pkgIntact } : {}), pkgfile: p.pkgfile ?? '', forced: p.forced ?? false });
    if (d.action === 'build' && d.key) return { build: true, key: d.key, parts, reason: reasonLine({ reasons: d.reasons }) };
    if (d.action === 'skip') {
      const deps = graph.depsOf(p.origin).sort();
      const reason = cutoffReason(deps.filter((dep) => built.has(dep)), deps.filter((dep) => settled.has(dep) && !built.has(dep)), plan.cascade);
      outcomes.set(p.origin, { origin: p.origin, pkgname: p.pkgname, version: p.version, status: 'skipped', reason: `${reason.kind}: ${reason.detail}`, cutoff: true });
      settled.set(p.origin, { key: d.key, package: plan.known.get(p.origin)?.package ?? null });
      progress.line(`${p.origin}@${p.version} (skipped: ${reason.detail})`);
      release(p.origin);
      return { build: false };
    }
    const why = d.action === 'blocked' ? d.reasons.map((r) => r.detail).join('; ') : `internal: still ${d.action} after its dependencies were settled`;
    outcomes.set(p.origin, { origin: p.origin, pkgname: p.pkgname, version: p.version, status: 'blocked', reason: why });
    progress.portFinished(-1, p.origin, 'blocked', why);
    block(p.origin, 'is blocked');
    return { build: false };
  };

  const start = async (origin: string, slot: number, key: string, parts: NonNullable<PlannedPort['keyParts']>, reason: string) => {
    const p = planned.get(origin)!;
    const meta = graph.node(origin).port!.meta;
    const log = logPath(state.paths.logs, origin, fetchOnly ? 'fetch' : 'build');
    const buildId = record
      ? await db.startBuild({ runId: opts.runId, origin, pkgname: p.pkgname, version: p.version, crc: p.crc!, buildKey: key, keyParts: parts, logPath: log, reason, trigger: opts.trigger })
      : crypto.randomUUID();
    const installs = (fetchOnly ? [] : packagesToInstall(graph, origin)).map((d) => {
      const m = graph.node(d).port!.meta;
      // The checksum recorded when it was built (in this pass or before): a replaced package is never installed.
      const checksum = (settled.get(d)?.package ?? plan.known.get(d)?.package)?.checksum;
      return { pkgname: m.pkgname, pkgfile: m.pkgfile, ...(checksum ? { checksum } : {}) };
    });
    const make: MakeCall = { command: state.make.command, env: state.make.env, vars: { ...state.make.vars, ...meta.vars }, makeJobs: state.makeJobs };
    const channel = new MessageChannel();
    running.set(origin, channel.port1);
    if (opts.signal?.aborted) channel.port1.postMessage({ type: 'cancel' });
    const task: BuildTask = {
      origin, dir: meta.dir, flavor: meta.flavors.length ? meta.flavor : '', pkgname: p.pkgname, version: p.version, pkgfile: meta.pkgfile,
      buildId, buildKey: key, backend: state.environment.backend, slot, paths, make, phases, installs,
      limits: limitsFor(state.limits, plan.observation.selected, origin, meta.flavors), logPath: log, port: channel.port2, // its own limits (issue 9)
    };
    const phaseWrites: Promise<void>[] = [];
    channel.port1.on('message', (e: TaskEvent) => {
      if (e.type === 'phase-start') progress.phase(slot, origin, e.phase);
      else {
        opts.onPhase?.({ origin, phase: e.phase, durationMs: e.durationMs, exitCode: e.exitCode });
        if (record) phaseWrites.push(db.recordPhase(buildId, e.phase, new Date(e.startedAt), e.durationMs, e.exitCode));
      }
    });
    progress.portStarted(slot, origin);
    let result: BuildTaskResult;
    const giveUp = new AbortController();
    waitingRuns.add(giveUp);
    try {
      result = await pool.run(task, { transferList: [channel.port2], signal: giveUp.signal });
    } catch (e) {
      const why = poolError ? `no build worker could start (${poolError.message})` : `worker crashed: ${(e as Error).message}`;
      result = { status: 'failed', lastPhase: 'setup', error: why, transient: true, durationMs: 0 };
    } finally {
      waitingRuns.delete(giveUp);
    }
    channel.port1.close();
    await Promise.all(phaseWrites);
    if (record) {
      await db.finishBuild(buildId, result.status, { finishedAt: new Date(), lastPhase: result.lastPhase, error: result.error ?? null, package: result.package ?? null, usage: result.usage ?? null });
      if (result.status === 'success') {
        await db.recordSuccess(origin, { crc: p.crc!, buildKey: key, keyParts: parts, version: p.version, buildId, pkgfile: meta.pkgfile, pkgname: p.pkgname, package: result.package ?? null });
        // Just published and hashed: the next plan need not hash it again to trust it.
        if (result.package?.checksum) verifier.remember(join(state.paths.packages, 'All', meta.pkgfile), result.package.checksum);
      } else if (result.status === 'failed' && !result.transient) {
        await db.recordFailure(origin, key, buildId);
      }
    }
    const outcome: PortOutcome = {
      origin, pkgname: p.pkgname, version: p.version, status: result.status, reason, buildId, lastPhase: result.lastPhase,
      durationMs: result.durationMs, logPath: log, ...(result.error ? { error: result.error } : {}), ...(result.transient ? { transient: true } : {}),
    };
    outcomes.set(origin, outcome);
    progress.portFinished(slot, origin, result.status, result.status === 'success' ? `${(result.durationMs / 1000).toFixed(1)}s` : result.error);
    if (fetchOnly) return;
    if (result.status === 'success') {
      built.add(origin);
      settled.set(origin, { key, package: result.package ?? null });
      release(origin);
    } else {
      block(origin, result.status === 'interrupted' ? 'was interrupted' : `failed in ${result.lastPhase}`);
    }
  };

  progress.start(work.size, workers);
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
        void start(origin, slot, decision.key, decision.parts, decision.reason).catch((e: unknown) => {
          const p = planned.get(origin)!;
          const error = `internal error: ${(e as Error)?.message ?? e}`;
          outcomes.set(origin, { origin, pkgname: p.pkgname, version: p.version, status: 'failed', reason: reasonLine(p), error, transient: true });
          progress.portFinished(slot, origin, 'failed', error);
          block(origin, 'failed');
        }).finally(() => {
          running.delete(origin);
          active--;
          freeSlots.push(slot);
          wake();
        });
      }
      if (active === 0) break;
      await new Promise<void>((r) => { wake = r; });
    }
  } finally {
    opts.signal?.removeEventListener('abort', cancelAll);
    try {
      verifier.save();
    } catch (e) {
      progress.line(`warning: could not save ${packageCheckCache(state.paths.buildBase)}: ${(e as Error).message} (packages are hashed again next time)`);
    }
    await pool.destroy();
    progress.stop();
  }
  // Anything never started (stopped by a signal) is interrupted for this pass.
  for (const o of work) {
    if (outcomes.has(o)) continue;
    const p = planned.get(o)!;
    outcomes.set(o, { origin: o, pkgname: p.pkgname, version: p.version, status: 'interrupted', reason: 'not started: the pass was stopped' });
  }
  return plan.ports.map((p) => outcomes.get(p.origin)!);
}
