/**
 * Recording a pass's builds in the build database, as an observer of the scheduler's run
 * (runObserver.ts). A build's records are written in the order its events came, one after the
 * other, without holding the build up: its row is written while it already runs (its phases
 * come after it), and its end — the build's row, and the port's state (its new package, or the
 * key it failed at) — is one transaction. Writes go through the fail-safe database: a fault is
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

/** One build's writes, in order. */
class BuildWrites {
  private last: Promise<unknown> = Promise.resolve();
  /** Phases that ended while the database was busy: one statement for them all (a remote build's come in bursts). */
  private phases: PhaseInput[] | undefined;

  then(op: () => Promise<unknown>): void {
    this.last = this.last.then(op);
  }

  /** Adds an ended phase to the batch waiting for its turn, or queues a new batch for `buildId`. */
  phase(db: FailSafeBuildDB, buildId: string, p: PhaseInput): void {
    if (!this.phases) {
      const batch: PhaseInput[] = (this.phases = []);
      this.then(() => {
        if (this.phases === batch) this.phases = undefined;
        return db.recordPhases(buildId, batch);
      });
    }
    this.phases.push(p);
  }

  /** The next phases belong to another attempt: a new batch. */
  newAttempt(): void {
    this.phases = undefined;
  }

  done(): Promise<unknown> {
    return this.last;
  }
}

export class BuildRecorder implements BuildRunObserver {
  private readonly builds = new Map<string, BuildWrites>();

  constructor(private readonly opts: RecordingOptions) {}

  portStarted(b: RunningBuild): void {
    const writes = new BuildWrites();
    this.builds.set(b.origin, writes);
    this.start(writes, b, b.buildId, new Date());
  }

  phase(b: RunningBuild, e: Exclude<TaskEvent, { type: 'retry' }>): void {
    const writes = this.builds.get(b.origin);
    if (!writes) return;
    const { db } = this.opts;
    const buildId = b.buildId;
    if (e.type === 'phase-end')
      writes.phase(db, buildId, { phase: e.phase, startedAt: new Date(e.startedAt), durationMs: e.durationMs, exitCode: e.exitCode });
    else if (e.type === 'host') writes.then(() => db.setBuildHost(buildId, e.host));
  }

  /** The lost attempt is recorded interrupted; the next attempt is a build of its own. */
  attemptLost(b: RunningBuild, lost: LostAttempt): void {
    const writes = this.builds.get(b.origin);
    if (!writes) return;
    writes.newAttempt();
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
