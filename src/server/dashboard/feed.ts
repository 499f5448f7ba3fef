/**
 * The daemon's live feed of its passes: every progress call (each worker's port and phase, the
 * lines a local pass prints) and every observer event, handed to whoever listens — the
 * dashboard's server-sent events and `reconcile` streaming its pass. It also keeps what the
 * overview shows of the running pass that /status does not: the queue and an ETA.
 */
import { LineProgress, type Progress } from '../../builder/progress.js';
import type { PortOutcome } from '../../builder/outcomes.js';
import type { BuildDB } from '../../builddb/db.js';
import type { PassObserver, RunInfo } from '../../reconcile/observers.js';
import type { PassResult } from '../../reconcile/passResult.js';
import { buildDurations, passEta, type BuildDurations } from '../eta.js';

/** A Progress method and its arguments, as the CLI replays them into its own display. */
export type ProgressCall =
  | { method: 'start'; args: [total: number, workers: number] }
  | { method: 'portStarted'; args: [slot: number, origin: string] }
  | { method: 'phase'; args: [slot: number, origin: string, phase: string] }
  | { method: 'portFinished'; args: [slot: number, origin: string, status: string, detail?: string] }
  | { method: 'line'; args: [text: string] };

export interface FeedEvent {
  seq: number;
  at: string;
  kind: 'progress' | 'run-started' | 'run-finished' | 'pass-failed' | 'status';
  /** The line a local pass would print for it (progress), or a line saying what happened. */
  line?: string;
  call?: ProgressCall;
  runId?: string;
}

export type FeedListener = (e: FeedEvent) => void;

/** The running pass as the feed saw it. */
interface LiveRun {
  runId: string;
  workers: number;
  /** Ports the plan builds or decides once their dependencies are built, in plan order. */
  toBuild: string[];
  started: Map<string, number>;
  finished: Set<string>;
  /** Recorded build times (median per origin and overall), for the ETA; null until loaded or without a database. */
  durations: BuildDurations | null;
}

export interface LiveSnapshot {
  runId: string | null;
  queue: string[];
  eta: { remainingMs: number; at: string } | null;
}

export class PassFeed implements PassObserver {
  private seq = 0;
  private readonly listeners = new Set<FeedListener>();
  private live: LiveRun | null = null;

  constructor(private readonly db: BuildDB | null) {}

  subscribe(fn: FeedListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Tells every listener; one that throws (a closed socket) is dropped, never the pass. */
  emit(e: Omit<FeedEvent, 'seq' | 'at'>): void {
    const event: FeedEvent = { seq: ++this.seq, at: new Date().toISOString(), ...e };
    for (const fn of this.listeners) {
      try {
        fn(event);
      } catch {
        this.listeners.delete(fn);
      }
    }
  }

  /** The Progress the daemon's passes also report to (PassLoop's `progress`). */
  progress(): Progress {
    let line = '';
    // The same lines a local pass prints in --verbose, made by the same class.
    const lines = new LineProgress((text) => (line = text));
    const call = (c: ProgressCall) => {
      line = '';
      (lines[c.method] as (...a: unknown[]) => void)(...c.args);
      this.track(c);
      this.emit({ kind: 'progress', call: c, ...(line ? { line } : {}) });
    };
    return {
      start: (total, workers) => call({ method: 'start', args: [total, workers] }),
      portStarted: (slot, origin) => call({ method: 'portStarted', args: [slot, origin] }),
      phase: (slot, origin, phase) => call({ method: 'phase', args: [slot, origin, phase] }),
      portFinished: (slot, origin, status, detail) =>
        call({ method: 'portFinished', args: detail === undefined ? [slot, origin, status] : [slot, origin, status, detail] }),
      line: (text) => call({ method: 'line', args: [text] }),
      stop: () => undefined,
    };
  }

  private track(c: ProgressCall): void {
    const live = this.live;
    if (!live) return;
    if (c.method === 'start') live.workers = c.args[1];
    else if (c.method === 'portStarted') live.started.set(c.args[1], Date.now());
    else if (c.method === 'portFinished') live.finished.add(c.args[1]);
  }

  runStarted(run: RunInfo): void {
    const toBuild = run.plan.ports.filter((p) => p.action === 'build' || p.action === 'pending').map((p) => p.origin);
    const live: LiveRun = {
      runId: run.runId,
      workers: run.state.workers,
      toBuild,
      started: new Map(),
      finished: new Set(),
      durations: null,
    };
    this.live = live;
    this.emit({
      kind: 'run-started',
      runId: run.runId,
      line: `run ${run.runId} (${run.trigger}) started: ${toBuild.length} of ${run.plan.ports.length} ports to build or decide`,
    });
    void this.loadExpected(live);
  }

  portFinished(_run: RunInfo, port: PortOutcome): void {
    this.live?.finished.add(port.origin);
  }

  runFinished(run: RunInfo, result: PassResult): void {
    if (this.live?.runId === run.runId) this.live = null;
    const s = result.stats;
    this.emit({
      kind: 'run-finished',
      runId: run.runId,
      line: `run ${run.runId} ${result.status}: ${s.success} built, ${s.failed} failed, ${s.skipped} skipped, ${s.blocked} blocked in ${(s.durationMs / 1000).toFixed(1)}s`,
    });
  }

  passFailed(failure: { trigger: string; error: unknown }): void {
    this.live = null;
    this.emit({ kind: 'pass-failed', line: `pass (${failure.trigger}) failed: ${(failure.error as Error)?.message ?? failure.error}` });
  }

  /** The queue (ports to build not started yet) and the ETA of the running pass. */
  snapshot(): LiveSnapshot {
    const live = this.live;
    if (!live) return { runId: null, queue: [], eta: null };
    const queue = live.toBuild.filter((o) => !live.started.has(o) && !live.finished.has(o));
    return { runId: live.runId, queue, eta: estimate(live) };
  }

  /** The recorded build times the ETA is made from (the same estimate as `status`: eta.ts). */
  private async loadExpected(live: LiveRun): Promise<void> {
    if (!this.db || !live.toBuild.length) return;
    try {
      live.durations = await buildDurations(this.db);
    } catch {
      // no ETA: the overview says so
    }
  }
}

/** The running pass's ETA (eta.ts passEta): the ports not finished, the running ones by when they started. */
function estimate(live: LiveRun): LiveSnapshot['eta'] {
  if (!live.durations) return null;
  const unfinished = live.toBuild.filter((o) => !live.finished.has(o));
  const queued = unfinished.filter((o) => !live.started.has(o));
  const building = unfinished
    .filter((o) => live.started.has(o))
    .map((origin) => ({ origin, since: new Date(live.started.get(origin)!).toISOString() }));
  const eta = passEta(queued, building, live.durations, live.workers);
  return eta && { remainingMs: eta.remainingMs, at: eta.finishAt };
}
