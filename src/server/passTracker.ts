/**
 * The daemon's memory of its passes for `GET /status`: the plan of the pass running now (or of
 * the last one) and its ports' outcomes as they come — what status compares the desired state
 * with — and the recorded build times the running pass's ETA is made from.
 */
import type { BuildDB } from '../builddb/db.js';
import type { PortOutcome } from '../builder/outcomes.js';
import type { DesiredState } from '../config/types.js';
import type { PassObserver, RunInfo } from '../reconcile/observers.js';
import type { PassResult } from '../reconcile/passResult.js';
import type { Plan } from '../reconcile/plan.js';
import { buildDurations, type BuildDurations } from './eta.js';

export interface TrackedPass {
  runId: string;
  plan: Plan;
  state: DesiredState;
  outcomes: Map<string, PortOutcome>;
  running: boolean;
  /** Build times as recorded before the pass started (null: not read yet, or the database failed). */
  durations: BuildDurations | null;
}

export class PassTracker implements PassObserver {
  private pass: TrackedPass | null = null;
  /** The build times as last read: read when the daemon starts and after each pass, so a pass has its ETA from its first build. */
  private durations: BuildDurations | null = null;

  constructor(
    private readonly db: BuildDB | null,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.readDurations();
  }

  /** The pass running now, else the last one that ended; null before the first. */
  get latest(): TrackedPass | null {
    return this.pass;
  }

  runStarted(run: RunInfo): void {
    const pass: TrackedPass = {
      runId: run.runId,
      plan: run.plan,
      state: run.state,
      outcomes: new Map(),
      running: true,
      durations: this.durations,
    };
    this.pass = pass;
    // (Before any pass was recorded, read now: the daemon may have started on an empty database.)
    if (!pass.durations) this.readDurations(pass);
  }

  /** Reads the recorded build times (for `pass` too, when given); a failure costs only the ETA. */
  private readDurations(pass?: TrackedPass): void {
    if (!this.db) return;
    buildDurations(this.db).then(
      (d) => {
        this.durations = d;
        if (pass && !pass.durations) pass.durations = d;
      },
      (err: unknown) => this.log(`warning: could not read the recorded build times for the ETA: ${(err as Error).message}`),
    );
  }

  portFinished(run: RunInfo, port: PortOutcome): void {
    if (this.pass?.runId === run.runId) this.pass.outcomes.set(port.origin, port);
  }

  runFinished(run: RunInfo, result: PassResult): void {
    if (this.pass?.runId === run.runId) this.pass.running = false;
    // Only a pass that built something recorded new build times (a no-change pass reads nothing:
    // the query allocates after the idle collection, and the daemon would keep that memory).
    if (result.stats.success > 0 || !this.durations) this.readDurations();
  }

  passFailed(): void {
    if (this.pass) this.pass.running = false;
  }
}
