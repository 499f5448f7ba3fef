/**
 * How an agent sends a job's events (JobEvent) to the coordinator: in order, as job progress;
 * the events of one burst (those sent in the same turn of the event loop: a simulated build's
 * phases, a log flush and the phase event after it) go as one update — one Redis round trip and
 * one queue event for the coordinator to read. Nothing waits for an answer: updates go out on
 * the job's connection in the order they were made, before the job's result.
 */
import type { JobEvent, JobProgress } from './job.js';

export class EventSender {
  private pending: JobEvent[] = [];
  private scheduled = false;
  /** Events sent so far (an upload's report counts them: the coordinator waits until it has as many). */
  sent = 0;
  /** The latest update: it settles after all earlier ones (one connection, in order). */
  private last: Promise<unknown> = Promise.resolve();

  /** `update`: the job's progress update (BullMQ job.updateProgress); a failed one costs a live view, never the build. */
  constructor(private readonly update: (progress: JobProgress) => Promise<unknown>) {}

  send(e: JobEvent): void {
    this.sent++;
    this.pending.push(e);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** Sends what is waiting now (before the job returns: its result must not overtake its events). */
  flush(): void {
    this.scheduled = false;
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    this.last = this.update(batch.length === 1 ? batch[0]! : batch).catch(() => {});
  }

  /** Sends what is waiting and resolves once every update so far has reached the queue (or failed). */
  async settled(): Promise<void> {
    this.flush();
    await this.last;
  }
}
