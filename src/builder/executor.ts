/**
 * Where the scheduler's builds run: the seam between "which port next" (the scheduler) and "run
 * this build somewhere" (an executor). The local executor is the Piscina pool of worker threads;
 * the distributed one (src/distributed/coordinator.ts) hands builds to agents through a queue.
 */
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { BuildTask, BuildTaskResult, TaskEvent } from './task.js';

/** A build as an executor takes it: the task without its message port (the executor makes its own channel). */
export type ExecutorTask = Omit<BuildTask, 'port'> & {
  /** Ports of the pass waiting on this one (a queue serves the most-waited-for first, as the scheduler does). */
  waiting?: number;
};

export interface BuildExecutor {
  /** Builds it runs at once: the scheduler starts at most this many; `slot` is below it. */
  readonly slots: number;
  /** Where builds run, as the pass's progress says it after "building N ports" ("with 2 workers", "on the agents of queue …"). */
  readonly description: string;
  /**
   * Builds one port. Events (phase start and end; for remote builds the agent's host and a lost
   * attempt) come through `onEvent` while it runs; aborting `signal` interrupts the build.
   */
  run(task: ExecutorTask, onEvent: (e: TaskEvent) => void, signal: AbortSignal): Promise<BuildTaskResult>;
  /** Stops its workers; the pass calls it once every build has returned. */
  close(): Promise<void>;
}

const WORKER_FILE = new URL('./worker-entry.mjs', import.meta.url).href;

/** The Piscina pool of build worker threads (src/builder/worker.ts in each). */
export class LocalExecutor implements BuildExecutor {
  readonly description: string;
  private readonly pool: Piscina;
  /** A worker thread that could not start (EMFILE, ENOMEM): an environment fault of this pass, not a crash. */
  private poolError: Error | undefined;
  /** Runs handed to the pool: with no worker thread left alive, they would wait for one forever. */
  private readonly waitingRuns = new Set<AbortController>();

  constructor(
    readonly slots: number,
    /** Builds the pass has: no more threads are started than that. */
    expected: number,
    warn: (line: string) => void,
  ) {
    this.description = `with ${slots} worker${slots === 1 ? '' : 's'}`;
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: Math.min(slots, Math.max(1, expected)),
      maxThreads: slots,
      idleTimeout: 1000,
    });
    // Piscina reports a thread that cannot start as an 'error' event, which must have a listener.
    this.pool.on('error', (err: Error) => {
      if (!this.poolError) warn(`warning: a build worker could not start: ${err.message}`);
      this.poolError ??= err;
      // No thread at all: nothing is running in one, so giving up on the queued runs stops no build midway.
      if (this.pool.threads.length === 0) for (const a of this.waitingRuns) a.abort(err);
    });
  }

  async run(task: ExecutorTask, onEvent: (e: TaskEvent) => void, signal: AbortSignal): Promise<BuildTaskResult> {
    const channel = new MessageChannel();
    channel.port1.on('message', onEvent);
    const cancel = () => channel.port1.postMessage({ type: 'cancel' });
    if (signal.aborted) cancel();
    else signal.addEventListener('abort', cancel, { once: true });
    const giveUp = new AbortController();
    this.waitingRuns.add(giveUp);
    try {
      return await this.pool.run({ ...task, port: channel.port2 } satisfies BuildTask, {
        transferList: [channel.port2],
        signal: giveUp.signal,
      });
    } catch (e) {
      const why = this.poolError ? `no build worker could start (${this.poolError.message})` : `worker crashed: ${(e as Error).message}`;
      return { status: 'failed', lastPhase: 'setup', error: why, transient: true, durationMs: 0 };
    } finally {
      this.waitingRuns.delete(giveUp);
      signal.removeEventListener('abort', cancel);
      channel.port1.close();
    }
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
