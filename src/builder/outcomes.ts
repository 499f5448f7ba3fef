/** What happened to each port of a pass (the scheduler's outcomes). */

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
