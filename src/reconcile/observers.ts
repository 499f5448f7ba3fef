/**
 * What a pass tells those who watch it — hooks, notifications, metrics — as it happens. An
 * observer queues its own work and returns at once; one that throws is logged and ignored: an
 * observer never slows, stops or fails a pass.
 */
import type { PortOutcome } from '../builder/outcomes.js';
import type { DesiredState } from '../config/types.js';
import type { PassResult } from './passResult.js';
import type { Plan } from './plan.js';

/** A recording pass that planned and starts building. */
export interface RunInfo {
  runId: string;
  trigger: string;
  gitCommit: string | null;
  state: DesiredState;
  /** The tree the pass reads (commit mode: portsync's checkout). */
  tree: string;
  plan: Plan;
  startedAt: Date;
}

export interface PhaseInfo {
  origin: string;
  phase: string;
  durationMs: number;
  exitCode: number;
}

export interface PassObserver {
  runStarted?(run: RunInfo): void;
  /** A port's outcome is known: built, failed, or decided without a build (skipped, ignored, blocked, interrupted). */
  portFinished?(run: RunInfo, port: PortOutcome): void;
  phaseFinished?(run: RunInfo, phase: PhaseInfo): void;
  /** The pass ended and was recorded. */
  runFinished?(run: RunInfo, result: PassResult): void;
  /** The daemon's pass threw before it could end (the tree unreadable, a full disk): told by the loop. */
  passFailed?(failure: { trigger: string; state: DesiredState; error: unknown; durationMs: number }): void;
}

type Events = { [K in keyof PassObserver]-?: Parameters<NonNullable<PassObserver[K]>> };

/** A list of observers called as one, each guarded. */
export class PassObservers {
  constructor(
    private readonly list: readonly PassObserver[],
    private readonly log: (line: string) => void,
  ) {}

  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    for (const o of this.list) {
      const fn = o[event] as ((...a: Events[K]) => void) | undefined;
      if (!fn) continue;
      try {
        fn.apply(o, args);
      } catch (err) {
        this.log(`warning: a ${event} observer failed (the pass goes on): ${(err as Error)?.message ?? err}`);
      }
    }
  }
}
