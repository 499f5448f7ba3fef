/** The scheduler's outcomes by origin, each reported as it is set (the pass's observers see ports finish as they do). */

export type PortStatus = 'success' | 'failed' | 'skipped' | 'ignored' | 'blocked' | 'interrupted';

export interface PortOutcome {
  origin: string;
  pkgname: string;
  version: string;
  status: PortStatus;
  /** One line: why it was built, or why not. */
  reason: string;
  buildId?: string;
  lastPhase?: string;
  error?: string;
  transient?: boolean;
  durationMs?: number;
  logPath?: string;
  /** Skipped because the dependencies that rebuilt produced the same result (early cutoff). */
  cutoff?: boolean;
  /** Skipped because nothing it is built from changed ("CRC match"; not suspended, not cut off). */
  upToDate?: boolean;
}

export function reportingOutcomes(report?: (outcome: PortOutcome) => void): Map<string, PortOutcome> {
  const outcomes = new Map<string, PortOutcome>();
  if (!report) return outcomes;
  const set = outcomes.set.bind(outcomes);
  outcomes.set = (origin, outcome) => {
    set(origin, outcome);
    report(outcome);
    return outcomes;
  };
  return outcomes;
}
