/**
 * The progress display (progress.ts) as an observer of the scheduler's run: what is built where,
 * each port's end, and the first SKIPPED_LINES up-to-date ports (a whole tree has 10,000 of them
 * per pass: the rest are counted, and listed in the summary lists).
 */
import { join } from 'node:path';
import type { PortOutcome } from './outcomes.js';
import type { Progress } from './progress.js';
import type { BuildRunObserver, LostAttempt, RunningBuild } from './runObserver.js';
import { UP_TO_DATE_LIST, upToDateLine } from './summary.js';
import type { TaskEvent } from './task.js';

/** "CRC match, skipped" lines printed per pass; the others are counted. */
export const SKIPPED_LINES = 20;

export class ProgressObserver implements BuildRunObserver {
  private upToDate = 0;
  private planned = false;
  private started = false;
  private stopped = false;

  constructor(
    private readonly progress: Progress,
    /** The logs directory the summary lists go to; undefined when the pass writes none (fetch-only). */
    private readonly listsIn: string | undefined,
  ) {}

  portFinished(o: PortOutcome, slot: number): void {
    if (this.stopped) return; // ports never started, told after the builds: the summary says them
    if (o.upToDate) {
      if (++this.upToDate <= SKIPPED_LINES) this.progress.line(upToDateLine(o));
    } else if (!this.planned) {
      // What else the plan decided (ignored, blocked, suspended) is in the summary.
    } else if (o.cutoff) {
      // The reason without its kind ("kind: detail").
      this.progress.line(`${o.origin}@${o.version} (skipped: ${o.reason.slice(o.reason.indexOf(': ') + 2)})`);
    } else if (o.status === 'blocked') {
      this.progress.portFinished(-1, o.origin, 'blocked', o.reason);
    } else {
      this.progress.portFinished(
        slot,
        o.origin,
        o.status,
        o.status === 'success' ? `${((o.durationMs ?? 0) / 1000).toFixed(1)}s` : o.error,
      );
    }
  }

  planReported(): void {
    this.planned = true;
    if (this.upToDate > SKIPPED_LINES)
      this.progress.line(
        `... and ${this.upToDate - SKIPPED_LINES} more up to date (CRC match, skipped)${this.listsIn ? `: every one is listed in ${join(this.listsIn, UP_TO_DATE_LIST)}` : ''}`,
      );
  }

  notice(text: string): void {
    this.progress.line(text);
  }

  buildsStarting(total: number, slots: number, where: string): void {
    this.started = true;
    this.progress.start(total, slots, where);
  }

  portStarted(b: RunningBuild): void {
    this.progress.portStarted(b.slot, b.origin);
  }

  phase(b: RunningBuild, e: Exclude<TaskEvent, { type: 'retry' }>): void {
    if (e.type === 'phase-start') this.progress.phase(b.slot, b.origin, e.phase);
    else if (e.type === 'host') this.progress.phase(b.slot, b.origin, `on ${e.host}`);
  }

  attemptLost(b: RunningBuild, lost: LostAttempt): void {
    this.progress.line(`${b.origin}: ${lost.reason}`);
  }

  passEnd(): void {
    this.stopped = true;
    if (this.started) this.progress.stop();
  }
}
