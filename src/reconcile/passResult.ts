/** What a pass returns: its counts, timings and every port's outcome (read by observers, the CLI, the daemon and notifications). */
import type { RunCounts } from '../builddb/types.js';
import type { PortOutcome } from '../builder/outcomes.js';
import type { Plan } from './plan.js';
import type { RepositoryOutcome } from './passRepository.js';
import type { OrphanPackage } from './orphans.js';

/** The run's counts (every port of the closure is in exactly one), plus what a pass adds. */
export interface PassStats extends RunCounts {
  interrupted: number;
  /** Of the skipped: ports whose rebuilt dependencies produced the same result (early cutoff). */
  cutoff: number;
  durationMs: number;
}

/** Where a pass spent its time, ms: reading the tree, planning, building, recording the results. */
export interface PassTimings {
  observe: number;
  plan: number;
  build: number;
  record: number;
}

export interface PassResult {
  runId: string;
  timings: PassTimings;
  gitCommit: string | null;
  stats: PassStats;
  ports: PortOutcome[];
  plan: Plan;
  /** Packages removed from the repository (policy.prune). */
  pruned?: OrphanPackage[];
  /** What the pass did to the published repository (recording passes). */
  repository?: RepositoryOutcome;
  /** success: nothing failed or blocked; failed: something did, or the repository could not be published; interrupted: stopped by a signal. */
  status: 'success' | 'failed' | 'interrupted';
}
