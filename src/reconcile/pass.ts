/**
 * One reconcile pass: observe the tree, plan against the build database, build what drifted,
 * record the run. Level-triggered: whatever caused it, the pass recomputes everything.
 */
import { FailSafeBuildDB } from '../builddb/failsafe.js';
import type { DesiredState } from '../config/types.js';
import { runBuilds } from '../builder/scheduler.js';
import { executorFactory } from '../distributed/index.js';
import type { PassResult, PassStats, PassTimings } from './passResult.js';
import { writeSummaryLists } from '../builder/summary.js';
import { writePassReport } from '../report/write.js';
import { planSummaryLine, reconcileJson } from './result-json.js';
import type { Progress } from '../builder/progress.js';
import { headCommit } from './git.js';
import { keyPartsReader, knownFromRows, readAhead, type KeyPartsReader } from './known.js';
import { assertInClosure, observe } from './observe.js';
import { makePlanReadingParts } from './plan.js';
import { PassObservers, type PassObserver, type RunInfo } from './observers.js';
import { acquirePassLock, openPassDatabase, type PassLock } from './passLock.js';
import { PassRepository } from './passRepository.js';
import { passObserversFor } from '../notify/index.js';
import { prunePass } from './prune.js';

export interface PassOptions {
  trigger: string;
  force?: readonly string[];
  /** Reconcile only these origins and what they need (`reconcile ORIGIN…`); the keys still cover the closure. */
  only?: readonly string[];
  /** An origin of `only` or `force` outside the closure is an error (UnknownOriginError) before the run starts; without it, an unknown forced origin is ignored (the daemon's coalesced requests). */
  checkOrigins?: boolean;
  progress: Progress;
  /** Messages for the user (database faults, warnings). */
  log: (line: string) => void;
  signal?: AbortSignal;
  /** An open database (the daemon keeps one); otherwise the pass opens and closes its own. */
  db?: FailSafeBuildDB;
  /** Tree to read instead of portsTree.path (commit mode's checkout). */
  tree?: string;
  gitCommit?: string | null;
  /** Fetch-only: every port of the closure runs fetch and checksum, in any order; nothing is recorded. */
  fetchOnly?: boolean;
  /** The daemon's hint: what may have changed since its previous pass (ScanOptions.changed). */
  changed?: ReadonlySet<string> | 'all';
  /** Who else watches the pass (the daemon's metrics); builds.yaml's hooks and notify targets always do. */
  observers?: readonly PassObserver[];
  /** Who runs this pass, named to a second pass that is refused (default: this command line). */
  holder?: string;
  /** The pass lock, taken by the caller (before commit mode moved portsync's checkout); it releases it. */
  lock?: PassLock;
}

/** A stopwatch: each call gives the ms since the previous one. */
function laps(): () => number {
  let last = performance.now();
  return () => {
    const now = performance.now();
    const ms = Math.round(now - last);
    last = now;
    return ms;
  };
}

export async function reconcilePass(state: DesiredState, opts: PassOptions): Promise<PassResult> {
  const t0 = performance.now();
  const record = !opts.fetchOnly;
  const observers = new PassObservers(record ? [...passObserversFor(state, opts.log), ...(opts.observers ?? [])] : [], opts.log);
  // One recording pass at a time per project (the daemon holds the lock for as long as it runs).
  const lock = opts.lock ?? (record && !opts.db ? await acquirePassLock(state.paths.buildBase, opts.holder) : undefined);
  if (lock?.tookOverFrom)
    opts.log(`took over the pass lock ${lock.file} left by pid ${lock.tookOverFrom.pid} (${lock.tookOverFrom.command}), which is gone`);
  let db: FailSafeBuildDB | undefined;
  try {
    // Fetch-only passes record nothing: they never touch the database (a daemon may hold it).
    db = opts.db ?? (opts.fetchOnly ? new FailSafeBuildDB(null, () => {}) : await openPassDatabase(state.paths.database, opts.log));
    // The repository is published atomically (src/repository): readied under the pass lock.
    const repository = record ? PassRepository.open(state, opts.log) : undefined;
    const tree = opts.tree ?? state.portsTree.path;
    const gitCommit = opts.gitCommit !== undefined ? opts.gitCommit : await headCommit(tree);
    const lap = laps();
    // The ports the daemon's hint reads again compare their recorded key parts: read while make reads them.
    let early: KeyPartsReader | undefined;
    const store = db;
    const onReread = (origins: readonly string[]) => {
      if (!opts.fetchOnly) early = readAhead(keyPartsReader(store), origins);
    };
    const obs = await observe(state, { tree, ...(opts.changed ? { changed: opts.changed } : {}), onReread });
    const observeMs = lap();
    // (Without their key parts: read for the few ports whose decision compares them.)
    const known = opts.fetchOnly ? new Map() : knownFromRows(await db.knownStatesWithoutParts());
    if (opts.checkOrigins) assertInClosure(obs, [...(opts.only ?? []), ...(opts.force ?? [])]);
    const force = new Set((opts.force ?? []).map((o) => obs.scan.resolve(o) ?? o));
    const options = { known, force, forceAll: opts.fetchOnly ?? false, ...(opts.only?.length ? { only: new Set(opts.only) } : {}) };
    const plan = await makePlanReadingParts(obs, options, early ?? keyPartsReader(db));
    const planMs = lap();
    for (const w of plan.warnings) opts.log(`warning: ${w.origin}: make printed on stderr: ${w.lines.join(' | ')}`);
    for (const p of plan.problems) opts.log(`error: ${p}`);
    for (const w of state.warnings) opts.log(`warning: ${w}`);
    // What the pass is about to do, before it prepares the repository and builds.
    opts.log(planSummaryLine(plan.summary));
    const runId = record ? await db.startRun({ trigger: opts.trigger, gitCommit }) : crypto.randomUUID();
    const run: RunInfo = { runId, trigger: opts.trigger, gitCommit, state, tree, plan, startedAt: new Date() };
    observers.emit('runStarted', run);
    // Builds and pruning write into a staging copy of the repository, published at the end; a pass that changes nothing makes none.
    const prunes = record && !opts.only?.length && plan.prune.length > 0;
    const changes = prunes || plan.ports.some((p) => p.action === 'build' || p.action === 'pending');
    const staging = repository && changes ? await repository.stage(runId) : undefined;
    const ports = await runBuilds({
      ...(staging ? { packages: staging } : {}),
      plan,
      db,
      runId,
      trigger: opts.trigger,
      progress: opts.progress,
      ...(opts.signal ? { signal: opts.signal } : {}),
      fetchOnly: opts.fetchOnly ?? false,
      onOutcome: (o) => observers.emit('portFinished', run, o),
      onPhase: (p) => observers.emit('phaseFinished', run, p),
      ...(opts.fetchOnly ? {} : { executor: executorFactory(state, { plan, tree, gitCommit, runId }) }),
    });
    const buildMs = lap();
    const stats: PassStats = {
      total: ports.length,
      success: 0,
      failed: 0,
      skipped: 0,
      ignored: 0,
      blocked: 0,
      interrupted: 0,
      cutoff: 0,
      durationMs: 0,
    };
    for (const p of ports) {
      stats[p.status]++;
      if (p.cutoff) stats.cutoff++;
    }
    stats.durationMs = Math.round(performance.now() - t0);
    let status: PassResult['status'] =
      opts.signal?.aborted || stats.interrupted ? 'interrupted' : stats.failed || stats.blocked ? 'failed' : 'success';
    // policy.prune (the plan lists the orphans only then): after the builds, in full passes that were not interrupted.
    const pruned =
      record && status !== 'interrupted' && !opts.only?.length
        ? await prunePass(staging ?? state.paths.packages, plan.prune, db, runId, opts.log)
        : [];
    // Published (catalog command, then the `latest` switch) only when a package changed; a failed catalog step fails the pass.
    const published = repository ? await repository.finish({ runId, gitCommit, interrupted: status === 'interrupted' }) : undefined;
    if (published?.action === 'not-published' && status === 'success') status = 'failed';
    if (record) {
      const { durationMs: _d, interrupted: _i, ...counts } = stats;
      await db.finishRun(runId, status, counts);
    }
    const timings: PassTimings = { observe: observeMs, plan: planMs, build: buildMs, record: 0 };
    const result: PassResult = {
      runId,
      timings,
      gitCommit,
      stats,
      ports,
      plan,
      status,
      ...(pruned.length ? { pruned } : {}),
      ...(published ? { repository: published } : {}),
    };
    if (record) {
      try {
        await writeSummaryLists(state.paths.logs, runId, ports, reconcileJson(result));
      } catch (e) {
        opts.log(`could not write the summary lists in ${state.paths.logs}: ${(e as Error).message}`);
      }
      await writePassReport(db.db, state.paths.logs, runId, reconcileJson(result).ports, opts.log);
    }
    timings.record = lap();
    observers.emit('runFinished', run, result);
    return result;
  } finally {
    if (!opts.db) await db?.close();
    if (!opts.lock) lock?.release();
  }
}
