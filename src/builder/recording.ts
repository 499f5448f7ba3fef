/**
 * Recording a pass's builds in the build database, as an observer of the scheduler's run
 * (runObserver.ts). A build's records are written in the order its events came, one after the
 * other, without holding the build up: its row is written while it already runs (its phases
 * come after it), and its end — the build's row, and the port's state (its new package, or the
 * key it failed at) — is one transaction. Ended phases wait up to PHASE_WRITE_DELAY_MS to be
 * written together (with the build's end when it comes first): a commit each was most of the
 * database's work per build (issue 12). Writes go through the fail-safe database: a fault is
 * logged, never a reason to stop building.
 */
import type { FailSafeBuildDB } from '../builddb/failsafe.js';
import type { PhaseInput } from '../builddb/types.js';
import { trimBuildLogs } from './logFiles.js';
import type { BuildRunObserver, LostAttempt, RunningBuild } from './runObserver.js';
import type { BuildTaskResult, TaskEvent } from './task.js';

export interface RecordingOptions {
  db: FailSafeBuildDB;
  runId: string;
  trigger: string;
  /** The logs directory and how many build logs per port it keeps (logs.keep). */
  logs: { dir: string; keep: number };
  warn: (line: string) => void;
}

/** How long an ended phase may wait to be written with the next ones (live views read the database: not long). */
export const PHASE_WRITE_DELAY_MS = 500;

/** One build's writes, in order. */
class BuildWrites {
  private last: Promise<unknown> = Promise.resolve();
  /** Phases ended and not yet written: one statement for them all, in the transaction of what comes next. */
  private phases: { buildId: string; list: PhaseInput[]; timer: NodeJS.Timeout } | undefined;

  constructor(private readonly db: FailSafeBuildDB) {}

  /** Queues `op` after the build's earlier writes; the phases waiting are written with it (one transaction). */
  then(op: () => Promise<unknown>): void {
    const waiting = this.takePhases();
    // Both called in the same turn: the database's write queue commits them together.
    this.last = this.last.then(waiting ? () => Promise.all([this.db.recordPhases(waiting.buildId, waiting.list), op()]) : op);
  }

  /** Adds an ended phase of build `buildId` to those waiting (written after PHASE_WRITE_DELAY_MS at the latest). */
  phase(buildId: string, p: PhaseInput): void {
    if (this.phases && this.phases.buildId !== buildId) this.flush(); // another attempt's
    this.phases ??= { buildId, list: [], timer: setTimeout(() => this.flush(), PHASE_WRITE_DELAY_MS) };
    this.phases.list.push(p);
  }

  /** Writes the phases waiting now. */
  flush(): void {
    const waiting = this.takePhases();
    if (waiting) this.last = this.last.then(() => this.db.recordPhases(waiting.buildId, waiting.list));
  }

  done(): Promise<unknown> {
    this.flush();
    return this.last;
  }

  private takePhases(): { buildId: string; list: PhaseInput[] } | undefined {
    const waiting = this.phases;
    if (!waiting) return undefined;
    clearTimeout(waiting.timer);
    this.phases = undefined;
    return waiting;
  }
}

export class BuildRecorder implements BuildRunObserver {
  private readonly builds = new Map<string, BuildWrites>();

  constructor(private readonly opts: RecordingOptions) {}

  portStarted(b: RunningBuild): void {
    const writes = new BuildWrites(this.opts.db);
    this.builds.set(b.origin, writes);
    this.start(writes, b, b.buildId, new Date());
  }

  phase(b: RunningBuild, e: Exclude<TaskEvent, { type: 'retry' }>): void {
    const writes = this.builds.get(b.origin);
    if (!writes) return;
    const { db } = this.opts;
    const buildId = b.buildId;
    if (e.type === 'phase-end')
      writes.phase(buildId, { phase: e.phase, startedAt: new Date(e.startedAt), durationMs: e.durationMs, exitCode: e.exitCode });
    else if (e.type === 'host') writes.then(() => db.setBuildHost(buildId, e.host));
  }

  /** The lost attempt is recorded interrupted; the next attempt is a build of its own. */
  attemptLost(b: RunningBuild, lost: LostAttempt): void {
    const writes = this.builds.get(b.origin);
    if (!writes) return;
    const finishedAt = new Date();
    writes.then(() =>
      this.opts.db.finishBuild(lost.buildId, 'interrupted', { finishedAt, lastPhase: lost.lastPhase ?? null, error: lost.reason }),
    );
    this.start(writes, b, b.buildId, finishedAt);
  }

  async buildFinished(b: RunningBuild, result: BuildTaskResult): Promise<void> {
    const writes = this.builds.get(b.origin);
    if (!writes) return;
    const finishedAt = new Date();
    const buildId = b.buildId;
    const port =
      result.status === 'success'
        ? {
            success: {
              origin: b.origin,
              crc: b.crc,
              buildKey: b.buildKey,
              keyParts: b.keyParts,
              version: b.version,
              buildId,
              pkgfile: b.pkgfile,
              pkgname: b.pkgname,
              package: result.package ?? null,
            },
          }
        : result.status === 'failed' && !result.transient
          ? { failure: { origin: b.origin, buildKey: b.buildKey } }
          : undefined;
    writes.then(() =>
      this.opts.db.completeBuild(
        buildId,
        result.status,
        {
          finishedAt,
          lastPhase: result.lastPhase,
          error: result.error ?? null,
          package: result.package ?? null,
          usage: result.usage ?? null,
        },
        port,
      ),
    );
    await writes.done();
    this.builds.delete(b.origin);
    this.trimLogs(b.origin);
  }

  /** Waits for the writes of builds that never finished (an internal error). */
  async passEnd(): Promise<void> {
    await Promise.all([...this.builds.values()].map((w) => w.done()));
  }

  private start(writes: BuildWrites, b: RunningBuild, buildId: string, startedAt: Date): void {
    const { db, runId, trigger } = this.opts;
    writes.then(() =>
      db.startBuild({
        buildId,
        runId,
        origin: b.origin,
        pkgname: b.pkgname,
        version: b.version,
        crc: b.crc,
        buildKey: b.buildKey,
        keyParts: b.keyParts,
        logPath: b.logPath,
        reason: b.reason,
        trigger,
        startedAt,
      }),
    );
  }

  /** The port's build logs beyond logs.keep go (the newest stay: this build's among them). */
  private trimLogs(origin: string): void {
    try {
      trimBuildLogs(this.opts.logs.dir, origin, this.opts.logs.keep);
    } catch (e) {
      this.opts.warn(`warning: could not remove old build logs of ${origin}: ${(e as Error).message} (portsync cleanup tries again)`);
    }
  }
}
