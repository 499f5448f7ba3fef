/**
 * What the scheduler tells those who follow its run: recording to the database (recording.ts),
 * the progress display (progressObserver.ts), the outcome list and the pass's observers
 * (outcomeObservers.ts), the package checks (packageMemory.ts). The scheduler itself only
 * schedules and dispatches; everything said or written about a build happens in an observer.
 *
 * Events come in this order: `portFinished` for every port the plan decided without a build,
 * `planReported`; then, when there is something to build, `notice`s and `buildsStarting`; per
 * build `portStarted`, its `phase` events (and `attemptLost`), `buildFinished` (awaited: the
 * build's records are written before its outcome is told and its dependents start),
 * `portFinished`; at the end `passEnd` (awaited), then `portFinished` for ports never started.
 */
import type { BuildKeyParts } from '../fingerprint/types.js';
import type { PortOutcome } from './outcomes.js';
import type { BuildTaskResult, TaskEvent } from './task.js';

/** A build the scheduler started. */
export interface RunningBuild {
  origin: string;
  pkgname: string;
  version: string;
  crc: string;
  /** Package file name (`<packages>/All/<pkgfile>`). */
  pkgfile: string;
  /** The repository the build writes its package into (the pass's staging copy). */
  packages: string;
  slot: number;
  buildKey: string;
  keyParts: BuildKeyParts;
  /** Why it is built, one line. */
  reason: string;
  logPath: string;
  /** The record of the attempt running now: a lost remote attempt's successor gets an id of its own. */
  buildId: string;
}

/** A remote attempt of a build was lost (its agent died or stopped answering). */
export interface LostAttempt {
  /** The lost attempt's record (`RunningBuild.buildId` is already the next attempt's). */
  buildId: string;
  reason: string;
  lastPhase?: string;
}

export interface BuildRunObserver {
  /** A port's outcome is known; `slot` is -1 for a port that never reached a worker. */
  portFinished?(outcome: PortOutcome, slot: number): void;
  /** Every port the plan decided without a build was told. */
  planReported?(): void;
  /** Something the pass says once before its builds (stale worker directories removed, limits it cannot enforce). */
  notice?(text: string): void;
  /** `total` ports to build, `slots` at once, `where` as the executor says it. */
  buildsStarting?(total: number, slots: number, where: string): void;
  portStarted?(build: RunningBuild): void;
  /** A phase started or ended, or a remote build's agent took it (`host`). */
  phase?(build: RunningBuild, event: Exclude<TaskEvent, { type: 'retry' }>): void;
  attemptLost?(build: RunningBuild, lost: LostAttempt): void;
  /** The build returned; its outcome is told once every observer's promise resolved. */
  buildFinished?(build: RunningBuild, result: BuildTaskResult): void | Promise<void>;
  /** The builds are over (also when the pass was stopped): resolves when the observer's work is done. */
  passEnd?(): void | Promise<void>;
}

type Events = { [K in keyof BuildRunObserver]-?: Parameters<NonNullable<BuildRunObserver[K]>> };

/** The scheduler's observers, told as one, in the order they are listed. */
export class RunObservers {
  constructor(private readonly list: readonly BuildRunObserver[]) {}

  tell<K extends Exclude<keyof Events, 'buildFinished' | 'passEnd'>>(event: K, ...args: Events[K]): void {
    for (const o of this.list) (o[event] as ((...a: Events[K]) => void) | undefined)?.apply(o, args);
  }

  /** An event observers may take time over: resolves when all of them are done with it. */
  async settle<K extends 'buildFinished' | 'passEnd'>(event: K, ...args: Events[K]): Promise<void> {
    const waits: unknown[] = [];
    for (const o of this.list) waits.push((o[event] as ((...a: Events[K]) => unknown) | undefined)?.apply(o, args));
    await Promise.all(waits);
  }
}
