/**
 * The daemon's pass loop: a work queue (queue.ts: level-triggered, coalescing, debounced, one
 * step at a time, backoff) around one reconcile step (`reconcileStep`), which reads top to bottom:
 * re-read builds.yaml, fetch, find the commit, work out what may have changed, run the pass,
 * requeue a resync. A step that fails is classified (passFailure.ts classifyPassError): *stalled*
 * (needs the user: an invalid committed builds.yaml with no good one before it, an unknown
 * branch) is shown in status and not retried; *transient* (environment) is retried with backoff;
 * *bug* is logged with its stack. Every pass re-reads builds.yaml and keeps the last good desired
 * state when the file is invalid — an invalid file never means "build nothing".
 *
 * What may have changed rides along with the requests (ScanOptions.changed): paths the tree
 * watcher saw (worktree mode), the files git says moved when HEAD moved, and in commit mode the
 * files the checkout rewrote. The scanner then trusts everything else without a stat. The whole
 * tree is checked on the first pass, after a pass that failed, on `startup` and `resync`, when
 * builds.yaml or the make settings changed, after a watcher lost track, and whenever the tree is
 * not watched.
 */
import { simpleGit } from 'simple-git';
import { LineProgress, TeeProgress, type Progress } from '../builder/progress.js';
import type { FailSafeBuildDB } from '../builddb/failsafe.js';
import { reconcileJson, type ReconcileJson } from './result-json.js';
import { loadDesiredState, sameDesiredState } from '../config/load.js';
import { fileSystemFault } from '../errors.js';
import { ConfigError, formatIssue, type ConfigIssue } from '../config/errors.js';
import type { DesiredState } from '../config/types.js';
import { PortsyncError } from '../errors.js';
import { headCommit } from './git.js';
import { reconcilePass, type PassOptions } from './pass.js';
import type { PassResult } from './passResult.js';
import { PassObservers, type PassObserver } from './observers.js';
import { keyPartsReader, knownFromRows } from './known.js';
import { assertInClosure, observe } from './observe.js';
import { makePlanReadingParts, type Plan } from './plan.js';
import { saveScanCaches } from '../ports/scanner.js';
import { commitChanges, sourceFor, type ChangedPaths, type PassSource } from './source.js';
import { CoalescingQueue, type FailureKind, type StepResult } from './queue.js';
import { classifyPassError } from './passFailure.js';

export type PassTrigger = 'manual' | 'watch' | 'git-push' | 'webhook' | 'resync' | 'startup';

/** When several triggers coalesce into one pass, the run records the most deliberate one. */
const TRIGGER_PRIORITY: readonly PassTrigger[] = ['manual', 'webhook', 'git-push', 'startup', 'watch', 'resync'];
/** Triggers a person or a hook asked for explicitly: not debounced. */
const IMMEDIATE: ReadonlySet<PassTrigger> = new Set(['manual', 'startup']);
const MAX_REASONS = 20;
/** Triggers that check the whole tree whatever was seen. */
const CHECK_ALL: ReadonlySet<PassTrigger> = new Set(['startup', 'resync']);
/** More changed paths than this between two passes: check the whole tree (as fast, and bounded memory). */
export const MAX_CHANGED = 20_000;

/** The loop was stopped before the requested pass could run. */
export class LoopStoppedError extends PortsyncError {
  constructor(readonly trigger: string) {
    super(`the daemon is stopping; the ${trigger} pass was not run`);
  }
}

export interface BeforePassContext {
  state: DesiredState;
  trigger: PassTrigger;
  reasons: readonly string[];
  signal: AbortSignal;
  log: (line: string) => void;
}

/** Runs before each pass (after builds.yaml is re-read); may point the pass at another tree/commit (commit mode). */
export type BeforePass = (ctx: BeforePassContext) => Promise<Partial<Pick<PassOptions, 'tree' | 'gitCommit'>> | void>;

export interface PassLoopOptions {
  configFile: string;
  /** The desired state the daemon started with (the first "last good" one). */
  state: DesiredState;
  /** The daemon's open database, shared by every pass. */
  db: FailSafeBuildDB;
  log: (line: string) => void;
  beforePass?: BeforePass;
  /** Called when a pass ended and no other is waiting (the daemon gives memory back then). */
  onIdle?: () => void;
  /** Retry delays for transient failures: initialMs, doubled each time, capped at maxMs. */
  backoff?: { initialMs: number; maxMs: number };
  /** Called when a re-read builds.yaml differs from the last good one. */
  onStateChange?: (state: DesiredState) => void;
  /**
   * The ports tree whose every change is reported to this loop (`noteChange`, `changed` of
   * requestPass), or undefined. Worktree-mode passes on any other tree check the whole tree.
   */
  watchedTree?: () => string | undefined;
  /** Watch every pass (the daemon's metrics), and hear of passes that failed before they could end. */
  observers?: readonly PassObserver[];
  /** Also told every pass's progress (the daemon's live feed), besides the log's lines. */
  progress?: Progress;
}

/** What the scanner was told and did in a pass: `changed` is the number of hinted paths, or 'all'. */
export interface PassScan {
  changed: number | 'all';
  ports: number;
  makeCalls: number;
  dirsRehashed: number;
  durationMs: number;
}

export interface BuildingPort {
  slot: number;
  origin: string;
  phase: string;
  since: string;
}

export interface CurrentPass {
  trigger: PassTrigger;
  reasons: string[];
  startedAt: string;
  /** config → fetch → prepare (read the tree, plan) → build. */
  phase: 'config' | 'fetch' | 'prepare' | 'build';
  toBuild: number;
  done: number;
  building: BuildingPort[];
}

export type LastPass = ReconcileJson & {
  trigger: PassTrigger;
  reasons: string[];
  startedAt: string;
  finishedAt: string;
  scan: PassScan;
};

export interface LoopStatus {
  current: CurrentPass | null;
  pending: { triggers: PassTrigger[]; reasons: string[] } | null;
  lastPass: LastPass | null;
  /** The last pass's failure and its kind: stalled (needs you; not retried), transient (retried), bug. */
  lastError: { message: string; at: string; kind: FailureKind } | null;
  retry: { attempt: number; at: string } | null;
  passes: number;
  config: { file: string; errors: ConfigIssue[]; errorText: string[]; lastGoodAt: string };
}

/** The work a pass does: every request since the previous pass started, merged. */
interface Batch {
  triggers: Set<PassTrigger>;
  reasons: string[];
  force: Set<string>;
  /** Paths that may have changed since the previous pass started, or 'all'. */
  changed: Set<string> | 'all';
}

const emptyBatch = (): Batch => ({ triggers: new Set(), reasons: [], force: new Set(), changed: new Set() });

/** Merges one request into the pending batch. */
function request(
  trigger: PassTrigger,
  reason: string,
  changed: Iterable<string> | 'all' = [],
  force: readonly string[] = [],
): (b: Batch) => void {
  return (b) => {
    b.triggers.add(trigger);
    if (b.reasons.length < MAX_REASONS) b.reasons.push(`${trigger}: ${reason}`);
    for (const o of force) b.force.add(o);
    if (changed === 'all' || CHECK_ALL.has(trigger)) b.changed = 'all';
    else if (b.changed !== 'all') {
      for (const c of changed) b.changed.add(c);
      if (b.changed.size > MAX_CHANGED) b.changed = 'all';
    }
  };
}

/** Wraps the line progress and remembers what is building, for /status. */
class TrackingProgress implements Progress {
  constructor(
    private readonly current: CurrentPass,
    private readonly inner: Progress,
  ) {}
  start(total: number, slots: number, where: string): void {
    this.current.phase = 'build';
    this.current.toBuild = total;
    this.inner.start(total, slots, where);
  }
  portStarted(slot: number, origin: string): void {
    this.current.building = this.current.building.filter((b) => b.slot !== slot);
    this.current.building.push({ slot, origin, phase: 'start', since: new Date().toISOString() });
    this.inner.portStarted(slot, origin);
  }
  phase(slot: number, origin: string, phase: string): void {
    const b = this.current.building.find((x) => x.slot === slot && x.origin === origin);
    if (b) b.phase = phase;
    this.inner.phase(slot, origin, phase);
  }
  portFinished(slot: number, origin: string, status: string, detail?: string): void {
    this.current.building = this.current.building.filter((b) => !(b.slot === slot && b.origin === origin));
    this.current.done++;
    this.inner.portFinished(slot, origin, status, detail);
  }
  line(text: string): void {
    this.inner.line(text);
  }
  stop(): void {
    this.inner.stop();
  }
}

function pickTrigger(triggers: Set<PassTrigger>): PassTrigger {
  return TRIGGER_PRIORITY.find((t) => triggers.has(t)) ?? 'watch';
}

export class PassLoop {
  private lastGood: DesiredState;
  /** Commit mode: the last committed state that was valid, with its checkout. */
  private lastGoodSource: PassSource | undefined;
  private lastGoodAt = new Date();
  private configErrors: ConfigIssue[] = [];
  private current: CurrentPass | null = null;
  private abort: AbortController | null = null;
  private lastPass: LastPass | null = null;
  private lastError: LoopStatus['lastError'] = null;
  private passes = 0;
  /** The trigger of the last pass, which a retry repeats. */
  private lastTrigger: PassTrigger = 'startup';
  private readonly queue: CoalescingQueue<Batch, PassResult>;
  /** The previous pass's scan: its tree, make settings and HEAD (worktree mode); null: none yet, or it failed. */
  private lastScan: { tree: string; key: string; head: string | null } | null = null;

  constructor(private readonly opts: PassLoopOptions) {
    this.lastGood = opts.state;
    this.queue = new CoalescingQueue<Batch, PassResult>({
      empty: emptyBatch,
      // Passes and plans one at a time: they share the tree's caches.
      step: (batch) => this.serial(() => this.reconcileStep(batch)),
      delayMs: (batch, firstAt, lastAt) => {
        // Debounce: start once no request came for debounceMs (at most 4×debounceMs after the first); manual and startup at once.
        if ([...batch.triggers].some((t) => IMMEDIATE.has(t))) return 0;
        const debounce = this.lastGood.watch.debounceMs;
        return Math.min(lastAt + debounce, firstAt + 4 * debounce) - Date.now();
      },
      classify: classifyPassError,
      onFailure: (err, kind) => this.failed(err, kind),
      onRetry: (attempt, delayMs) => this.opts.log(`retrying in ${Math.round(delayMs / 1000)}s (attempt ${attempt})`),
      retryWork: (attempt) => request(this.lastTrigger, `retry ${attempt} after a transient failure`),
      backoff: opts.backoff ?? { initialMs: 5_000, maxMs: 600_000 },
      onIdle: () => this.opts.onIdle?.(),
    });
  }

  /** The desired state passes currently use (the last valid builds.yaml). */
  get state(): DesiredState {
    return this.lastGood;
  }

  /** Starts the loop: a `startup` pass now, then resyncs. */
  start(): void {
    this.queue.add(request('startup', 'daemon started'));
  }

  /**
   * Marks a pass as needed. The promise settles with the result of the first pass that starts
   * after this request (rejects if that pass throws or the loop stops); callers may ignore it.
   */
  requestPass(
    trigger: PassTrigger,
    reason: string,
    opts: { force?: readonly string[]; changed?: Iterable<string> | 'all' } = {},
  ): Promise<PassResult> {
    const p = new Promise<PassResult>((resolve, reject) => {
      if (!this.queue.add(request(trigger, reason, opts.changed, opts.force), { resolve, reject })) reject(new LoopStoppedError(trigger));
    });
    p.catch(() => undefined);
    return p;
  }

  /**
   * Marks a pass as needed because `changed` (absolute paths of the tree, or 'all') may have
   * changed. Like requestPass without a promise: the watcher calls it once per event.
   */
  noteChange(trigger: PassTrigger, reason: string, changed: Iterable<string> | 'all'): void {
    this.queue.add(request(trigger, reason, changed));
  }

  /** Passes and plans one at a time: they share the tree's caches. */
  private exclusive: Promise<unknown> = Promise.resolve();
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.exclusive.then(fn, fn);
    this.exclusive = p.catch(() => undefined);
    return p;
  }

  /**
   * What a pass would do now, without building (`portsync plan` while the daemon runs): the
   * desired state and tree as the next pass would see them, read with what changed since the
   * last pass (the pending changes stay pending: the next pass is told about them too).
   */
  plan(only: readonly string[] = []): Promise<Plan> {
    return this.serial(async () => {
      const disk = await this.reloadState();
      const source = await this.commitSource(disk);
      const seen = { ...emptyBatch(), changed: this.queue.pendingWork?.changed ?? new Set<string>() };
      const { changed } = await this.changedFor(seen, disk, source, source.tree, source.state);
      const obs = await observe(source.state, { tree: source.tree, changed });
      assertInClosure(obs, only);
      const known = knownFromRows(await this.opts.db.knownStatesWithoutParts());
      const plan = await makePlanReadingParts(obs, { known, only: new Set(only) }, keyPartsReader(this.opts.db));
      this.saveCaches();
      const s = plan.summary;
      this.opts.log(
        `plan asked for: ${s.total} ports, ${s.build} to build, ${s.pending} pending, ${s.blocked} blocked (read the tree in ${obs.scan.stats.durationMs} ms)`,
      );
      return plan;
    });
  }

  /** The scans' caches, saved after the pass rather than before its plan (deferCacheSaves). */
  private saveCaches(): void {
    try {
      saveScanCaches();
    } catch (err) {
      this.opts.log(`warning: could not save the metadata cache: ${(err as Error).message} (the next start reads the tree again)`);
    }
  }

  /** One reconcile step: the pass the batch asks for, then a resync after the interval. Throws what failed (the queue classifies it). */
  private async reconcileStep(batch: Batch): Promise<StepResult<Batch, PassResult>> {
    const trigger = pickTrigger(batch.triggers);
    this.lastTrigger = trigger;
    const abort = new AbortController();
    this.abort = abort;
    const current: CurrentPass = {
      trigger,
      reasons: batch.reasons,
      startedAt: new Date().toISOString(),
      phase: 'config',
      toBuild: 0,
      done: 0,
      building: [],
    };
    this.current = current;
    const log = this.opts.log;
    log(
      `pass (${trigger}) starting: ${batch.reasons.slice(0, 3).join('; ')}${batch.reasons.length > 3 ? ` (+${batch.reasons.length - 3} more)` : ''}`,
    );
    try {
      // 1. The desired state: builds.yaml as on disk (the last good one when it is invalid).
      const disk = await this.reloadState();
      // 2. Commit mode: the remote's commits, and the committed desired state and tree.
      if (disk.portsTree.source === 'commit') {
        current.phase = 'fetch';
        await fetchRemote(disk.portsTree.path, log);
      }
      current.phase = 'prepare';
      const source = await this.commitSource(disk);
      const state = source.state;
      const extra = {
        tree: source.tree,
        ...(source.gitCommit ? { gitCommit: source.gitCommit } : {}),
        ...((await this.opts.beforePass?.({ state, trigger, reasons: batch.reasons, signal: abort.signal, log })) ?? {}),
      };
      // 3. What may have changed since the last pass (the scanner trusts the rest).
      const { changed, head, key } = await this.changedFor(batch, disk, source, extra.tree, state);
      this.lastScan = null; // until this pass has scanned and finished
      // 4. The pass: observe, plan, build, record.
      const result = await reconcilePass(state, {
        trigger,
        force: [...batch.force],
        progress: new TrackingProgress(
          current,
          this.opts.progress ? new TeeProgress([new LineProgress(log), this.opts.progress]) : new LineProgress(log),
        ),
        log,
        signal: abort.signal,
        db: this.opts.db,
        changed,
        ...(this.opts.observers ? { observers: this.opts.observers } : {}),
        ...(head !== undefined ? { gitCommit: head } : {}),
        ...extra,
      });
      this.lastScan = { tree: extra.tree, key, head: head ?? null };
      this.passes++;
      // 5. Report, and requeue: a resync after the interval, or a retry when a port met a transient fault.
      const scan = this.reportPass(result, current, changed);
      this.lastPass = {
        ...reconcileJson(result),
        trigger,
        reasons: batch.reasons,
        startedAt: current.startedAt,
        finishedAt: new Date().toISOString(),
        scan,
      };
      this.lastError = null;
      const transientPorts = result.ports.filter((p) => p.transient);
      const transient = transientPorts.length > 0 && result.status !== 'interrupted';
      if (transient) log(`pass ${result.runId}: transient failure of ${transientPorts.map((p) => p.origin).join(', ')}`);
      return { result, transient, requeue: this.resync() };
    } catch (err) {
      this.passes++;
      new PassObservers(this.opts.observers ?? [], log).emit('passFailed', {
        trigger,
        state: this.lastGood,
        error: err,
        durationMs: Date.now() - Date.parse(current.startedAt),
      });
      throw err;
    } finally {
      this.current = null;
      this.abort = null;
      this.saveCaches();
    }
  }

  /** The periodic resync, armed after every pass (a request before it replaces it). */
  private resync(): StepResult<Batch, PassResult>['requeue'] {
    return { afterMs: this.lastGood.watch.resyncIntervalMs, work: request('resync', 'periodic resync') };
  }

  /** A failed step, by kind: logged and shown in status; stalled and bug are not retried, but the resync still comes. */
  private failed(err: unknown, kind: FailureKind): void {
    const message = fileSystemFault(err) ?? (err as Error).message;
    this.lastError = { message, at: new Date().toISOString(), kind };
    const log = this.opts.log;
    if (kind === 'stalled')
      log(
        `pass (${this.lastTrigger}) stalled: ${message} — needs a change from you; not retried until builds.yaml, the tree or a request changes something`,
      );
    else if (kind === 'bug')
      log(`pass (${this.lastTrigger}) failed on an internal error (please report it): ${(err as Error).stack ?? message}`);
    else log(`pass (${this.lastTrigger}) failed: ${message}`);
    if (kind !== 'transient') {
      const r = this.resync()!;
      this.queue.requeueAfter(r.afterMs, r.work);
    }
  }

  /** Logs what the pass read and how long each part took; returns the scan's figures for status. */
  private reportPass(result: PassResult, current: CurrentPass, changed: ChangedPaths): PassScan {
    const log = this.opts.log;
    const s = result.plan.observation.scan.stats;
    const scan: PassScan = {
      changed: changed === 'all' ? 'all' : changed.size,
      ports: s.ports,
      makeCalls: s.makeCalls,
      dirsRehashed: s.dirsRehashed,
      durationMs: s.durationMs,
    };
    const t = result.timings;
    log(
      `pass ${result.runId} read the tree: ${scan.changed === 'all' ? 'everything checked' : `${scan.changed} changed paths`}, ${scan.dirsRehashed} port directories re-read, ${scan.makeCalls} make calls, ${scan.durationMs} ms`,
    );
    log(`pass ${result.runId} took ${t.observe} ms to observe, ${t.plan} ms to plan, ${t.build} ms to build, ${t.record} ms to record`);
    log(
      `pass ${result.runId} (${current.trigger}) ${result.status}: ${result.stats.success} built, ${result.stats.failed} failed, ${result.stats.skipped} skipped, ${result.stats.blocked} blocked in ${(result.stats.durationMs / 1000).toFixed(1)}s`,
    );
    return scan;
  }

  /**
   * What the scanner may trust for this pass (see the file comment), the HEAD of a worktree-mode
   * tree (recorded by the pass, compared by the next one), and the identity of the make settings.
   */
  private async changedFor(
    batch: Batch,
    disk: DesiredState,
    source: PassSource,
    tree: string,
    state: DesiredState,
  ): Promise<{ changed: ChangedPaths; head?: string | null; key: string }> {
    const key = JSON.stringify([state.make, state.paths.buildBase, tree]);
    const last = this.lastScan;
    const commitMode = disk.portsTree.source === 'commit';
    const head = commitMode ? undefined : await headCommit(tree);
    const all = { changed: 'all' as const, key, ...(head !== undefined ? { head } : {}) };
    if (batch.changed === 'all' || !last || last.tree !== tree || last.key !== key) return all;
    if (commitMode) {
      // Nothing under the checkout is watched: what the checkout rewrote is what changed.
      if (tree !== source.tree || !source.changed || source.changed === 'all') return all;
      const changed = new Set([...batch.changed, ...source.changed]);
      return changed.size > MAX_CHANGED ? all : { changed, key };
    }
    if (this.opts.watchedTree?.() !== tree) return all;
    const changed = new Set(batch.changed);
    if (head !== last.head) {
      // A checkout, pull or reset: git names what it rewrote, even when inotify dropped events.
      if (!head || !last.head) return all;
      const moved = await commitChanges(tree, last.head, head);
      if (moved === 'all') return all;
      for (const p of moved) changed.add(p);
    }
    return changed.size > MAX_CHANGED ? all : { changed, head, key };
  }

  /**
   * Commit mode: the desired state and tree as of the followed commit. An invalid committed
   * builds.yaml is reported like an invalid file and the last good committed state is kept.
   */
  private async commitSource(disk: DesiredState): Promise<PassSource> {
    try {
      let source = await sourceFor(disk);
      if (disk.portsTree.source === 'commit') {
        // The same committed desired state: the same object (the observation and the plan are kept per desired state).
        const before = this.lastGoodSource?.state;
        if (before && sameDesiredState(before, source.state)) source = { ...source, state: before };
        if (this.configErrors.length) this.opts.log(`${this.opts.configFile} at ${source.gitCommit?.slice(0, 12)} is valid again`);
        this.configErrors = [];
        this.lastGoodSource = source;
      }
      return source;
    } catch (err) {
      if (!(err instanceof ConfigError) || !this.lastGoodSource) throw err;
      this.configErrors = err.issues;
      this.opts.log(
        `${this.opts.configFile} as committed is invalid; keeping the last good committed state (${this.lastGoodSource.gitCommit?.slice(0, 12)}):`,
      );
      for (const i of err.issues) this.opts.log(`  ${formatIssue(i)}`);
      // The committed builds.yaml is read before the checkout moves: the checkout is as it was.
      return { ...this.lastGoodSource, changed: new Set() };
    }
  }

  private async reloadState(): Promise<DesiredState> {
    try {
      const state = await loadDesiredState(this.opts.configFile);
      if (this.configErrors.length) this.opts.log(`${this.opts.configFile} is valid again`);
      this.configErrors = [];
      const before = this.lastGood;
      if (
        state.paths.database !== before.paths.database ||
        state.server.socket !== before.server.socket ||
        state.server.listen !== before.server.listen
      ) {
        this.opts.log(
          `warning: builds.yaml changed paths.database or server.*; restart the daemon to apply (still using ${before.paths.database}, ${before.server.socket})`,
        );
      }
      this.lastGoodAt = new Date();
      // Unchanged: the same object as before (the observation and the plan are kept per desired state).
      if (sameDesiredState(state, before)) return before;
      this.lastGood = state;
      this.opts.onStateChange?.(state);
      return state;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.configErrors = err.issues;
      this.opts.log(`${this.opts.configFile} is invalid; keeping the last good desired state (read ${this.lastGoodAt.toISOString()}):`);
      for (const i of err.issues) this.opts.log(`  ${formatIssue(i)}`);
      return this.lastGood;
    }
  }

  status(): LoopStatus {
    return {
      current: this.current ? { ...this.current, building: [...this.current.building] } : null,
      pending: this.queue.pendingWork
        ? { triggers: [...this.queue.pendingWork.triggers], reasons: [...this.queue.pendingWork.reasons] }
        : null,
      lastPass: this.lastPass,
      lastError: this.lastError,
      retry: this.queue.retry,
      passes: this.passes,
      config: {
        file: this.opts.configFile,
        errors: this.configErrors,
        errorText: this.configErrors.map(formatIssue),
        lastGoodAt: this.lastGoodAt.toISOString(),
      },
    };
  }

  /** No new passes; interrupts the running one (its builds are killed and recorded interrupted) and waits for it. */
  async stop(): Promise<void> {
    await this.queue.stop(
      (batch) => new LoopStoppedError(pickTrigger(batch.triggers)),
      () => this.abort?.abort(),
    );
  }
}

/** Commit mode: bring the tree's remote-tracking refs up to date. Failures are logged, not fatal. */
export async function fetchRemote(tree: string, log: (line: string) => void): Promise<void> {
  try {
    const git = simpleGit({ baseDir: tree });
    const remotes = await git.getRemotes();
    if (remotes.length === 0) return;
    await git.fetch(['--all', '--prune']);
  } catch (err) {
    log(`git fetch in ${tree} failed (transient; the pass uses what is already fetched): ${(err as Error).message.trim()}`);
  }
}
