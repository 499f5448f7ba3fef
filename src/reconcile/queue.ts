/**
 * A level-triggered work queue, as Kubernetes' and Flux's controllers use: a request only marks
 * work as needed; requests coalesce into one pending item (merged by the caller); one step runs
 * at a time; requests are debounced; a step's result may ask to run again later (resync); a
 * failed step is retried with exponential backoff only when its failure is transient.
 *
 * It knows nothing of passes, trees or builds.yaml: the owner (PassLoop) says how to merge a
 * request into the pending work, how long to wait, what to run and what kind a failure is.
 */

/** What the owner must do about a failed step. */
export type FailureKind =
  /** Needs the user (an invalid committed builds.yaml, an unknown branch): not retried until something changes. */
  | 'stalled'
  /** The environment (a fetch, the disk, the database, make): retried with backoff. */
  | 'transient'
  /** portsync's own fault: logged with its stack, not retried (the next request or resync runs again). */
  | 'bug';

export interface QueueOptions<W, R> {
  /** A new, empty work item. */
  empty(): W;
  /** Run one step on the work collected so far. */
  step(work: W): Promise<StepResult<W, R>>;
  /** How long to wait for more requests before running: 0 runs at once. firstAt/lastAt: when the first and the last request came. */
  delayMs(work: W, firstAt: number, lastAt: number): number;
  classify(err: unknown): FailureKind;
  /** Told of every failed step and its kind (before a transient one's retry is scheduled). */
  onFailure(err: unknown, kind: FailureKind): void;
  /** Told when a retry is scheduled: after a transient failure, or a step that met transient faults. */
  onRetry(attempt: number, delayMs: number): void;
  /** The work a transient failure's retry runs. */
  retryWork(attempt: number): (work: W) => void;
  backoff: { initialMs: number; maxMs: number };
  /** Called when a step ended and no other is waiting. */
  onIdle?(): void;
}

export interface StepResult<W, R> {
  result: R;
  /** The step ran but met transient faults (a fetch that failed): retried with backoff, as a transient failure. */
  transient?: boolean;
  /** Run again after this long, with this work (a periodic resync); replaced by any earlier request. */
  requeue?: { afterMs: number; work: (work: W) => void };
}

interface Waiter<R> {
  resolve(r: R): void;
  reject(e: unknown): void;
}

interface Pending<W, R> {
  work: W;
  waiters: Waiter<R>[];
  firstAt: number;
  lastAt: number;
}

export class CoalescingQueue<W, R> {
  private pending: Pending<W, R> | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private startTimer: NodeJS.Timeout | undefined;
  private requeueTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryState: { attempt: number; at: string } | null = null;
  private attempts = 0;

  constructor(private readonly opts: QueueOptions<W, R>) {}

  /** Merges a request into the pending work; `waiter` settles with the result of the step that runs it. */
  add(merge: (work: W) => void, waiter?: Waiter<R>): boolean {
    if (this.stopping) return false;
    const now = Date.now();
    const p = (this.pending ??= { work: this.opts.empty(), waiters: [], firstAt: now, lastAt: now });
    p.lastAt = now;
    merge(p.work);
    if (waiter) p.waiters.push(waiter);
    if (!this.running) this.scheduleStart();
    return true;
  }

  /** The pending work, if any (read-only use: a plan between steps sees what is still to come). */
  get pendingWork(): W | undefined {
    return this.pending?.work;
  }

  get retry(): { attempt: number; at: string } | null {
    return this.retryState;
  }

  private scheduleStart(): void {
    const p = this.pending;
    if (!p || this.running || this.stopping) return;
    clearTimeout(this.startTimer);
    this.startTimer = setTimeout(() => this.start(), Math.max(0, this.opts.delayMs(p.work, p.firstAt, p.lastAt)));
  }

  private start(): void {
    if (this.running || this.stopping || !this.pending) return;
    const p = this.pending;
    this.pending = null;
    clearTimeout(this.requeueTimer);
    clearTimeout(this.retryTimer);
    this.retryState = null;
    this.running = this.runStep(p).finally(() => {
      this.running = null;
      if (this.stopping) return;
      if (this.pending) this.scheduleStart();
      else this.opts.onIdle?.();
    });
  }

  private async runStep(p: Pending<W, R>): Promise<void> {
    let requeue: StepResult<W, R>['requeue'];
    try {
      const step = await this.opts.step(p.work);
      requeue = step.requeue;
      for (const w of p.waiters) w.resolve(step.result);
      if (step.transient && !this.stopping) this.retryLater();
      else this.attempts = 0;
    } catch (err) {
      const kind = this.opts.classify(err);
      for (const w of p.waiters) w.reject(err);
      this.opts.onFailure(err, kind);
      if (kind === 'transient' && !this.stopping) this.retryLater();
      else this.attempts = 0;
    }
    if (requeue) this.requeueAfter(requeue.afterMs, requeue.work);
  }

  /** Backoff: initialMs, doubled at each consecutive transient failure, capped at maxMs. */
  private retryLater(): void {
    const delayMs = Math.min(this.opts.backoff.maxMs, this.opts.backoff.initialMs * 2 ** this.attempts);
    const attempt = ++this.attempts;
    this.opts.onRetry(attempt, delayMs);
    this.retryState = { attempt, at: new Date(Date.now() + delayMs).toISOString() };
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.add(this.opts.retryWork(attempt)), delayMs);
    this.retryTimer.unref();
  }

  /** Arms a later run of `work` (the resync after a failed step, which returns no result). */
  requeueAfter(afterMs: number, work: (work: W) => void): void {
    if (this.stopping) return;
    clearTimeout(this.requeueTimer);
    this.requeueTimer = setTimeout(() => this.add(work), afterMs);
    this.requeueTimer.unref();
  }

  /** No new steps; the pending work's waiters are rejected with `reason(work)`; waits for the running step. */
  async stop(reason: (work: W) => unknown, interrupt: () => void): Promise<void> {
    this.stopping = true;
    for (const t of [this.startTimer, this.requeueTimer, this.retryTimer]) clearTimeout(t);
    const p = this.pending;
    this.pending = null;
    for (const w of p?.waiters ?? []) w.reject(reason(p!.work));
    interrupt();
    await this.running;
  }
}
