/**
 * What the dashboard and the static report show, read from the build database: a run with every
 * build on a worker lane (the Gantt timeline), its phases, time per phase and failures with their
 * log tails; the runs list; a port's builds over time. Plain JSON: the browser renders it.
 */
import type { BuildDB } from '../builddb/db.js';
import { logTail } from './logTail.js';

export interface RunSummary {
  runId: string;
  trigger: string;
  gitCommit: string | null;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  total: number | null;
  success: number | null;
  failed: number | null;
  skipped: number | null;
  ignored: number | null;
  blocked: number | null;
  cutoff: number | null;
  error: string | null;
}

export interface BuildPhase {
  phase: string;
  startedAt: string;
  durationMs: number;
  exitCode: number;
}

export interface RunBuild {
  buildId: string;
  origin: string;
  version: string | null;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  lastPhase: string | null;
  reason: string | null;
  error: string | null;
  log: string | null;
  /**
   * The worker lane it is drawn on: builds are laid out on the fewest lanes on which none
   * overlaps (as many as builds ran at once, so at most `workers`); the database does not record
   * which worker slot ran a build.
   */
  lane: number;
  phases: BuildPhase[];
}

export interface PhaseTotal {
  phase: string;
  totalMs: number;
  builds: number;
}

export interface Failure {
  origin: string;
  buildId: string;
  lastPhase: string | null;
  error: string | null;
  log: string | null;
  tail: string;
}

/** A port's outcome in the pass (the report also lists ports decided without a build). */
export interface PortLine {
  origin: string;
  version: string;
  status: string;
  reason: string;
  error?: string;
}

export interface RunDetail {
  run: RunSummary;
  builds: RunBuild[];
  phases: PhaseTotal[];
  failures: Failure[];
  ports?: PortLine[];
}

export interface PortBuild {
  buildId: string;
  runId: string | null;
  version: string | null;
  status: string;
  trigger: string | null;
  reason: string | null;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  lastPhase: string | null;
  error: string | null;
  log: string | null;
  gitCommit: string | null;
}

export interface PortDetail {
  origin: string;
  /** Newest first. */
  builds: PortBuild[];
  /** The newest successful build: why the port last rebuilt. */
  lastRebuild: PortBuild | null;
  /** Set while the port is blocked: it failed at its current build key. */
  failedAt: string | null;
}

/** A SQL string literal. */
export const sqlText = (v: string) => `'${v.replaceAll("'", "''")}'`;

async function objects<T>(db: BuildDB, sql: string, maxRows = 100_000): Promise<T[]> {
  const r = await db.query(sql, { maxRows });
  return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])) as T);
}

const RUN_COLUMNS = `run_id::VARCHAR AS "runId", trigger, git_commit AS "gitCommit", status, started_at AS "startedAt",
  finished_at AS "finishedAt", duration_ms AS "durationMs", total, success, failed, skipped, ignored, blocked, cutoff, error`;

export function recentRunSummaries(db: BuildDB, limit = 100): Promise<RunSummary[]> {
  return objects<RunSummary>(db, `SELECT ${RUN_COLUMNS} FROM runs ORDER BY started_at DESC LIMIT ${Math.floor(limit)}`);
}

/** Assigns lanes: each build to the lowest lane free when it starts (interval partitioning). */
export function assignLanes<T extends { startedAt: string; finishedAt: string | null; durationMs: number | null }>(
  builds: T[],
): (T & { lane: number })[] {
  const laneEnds: number[] = [];
  return [...builds]
    .sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt))
    .map((b) => {
      const start = Date.parse(b.startedAt);
      const end = b.finishedAt ? Date.parse(b.finishedAt) : start + (b.durationMs ?? 0);
      let lane = laneEnds.findIndex((e) => e <= start);
      if (lane < 0) lane = laneEnds.push(end) - 1;
      else laneEnds[lane] = end;
      return { ...b, lane };
    });
}

/** A run with its builds, phases and failures; undefined when there is no such run. */
export async function runDetail(db: BuildDB, runId: string, tailLines = 40): Promise<RunDetail | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(runId)) return undefined;
  const [run] = await objects<RunSummary>(db, `SELECT ${RUN_COLUMNS} FROM runs WHERE run_id = ${sqlText(runId)}`);
  if (!run) return undefined;
  const rows = await objects<Omit<RunBuild, 'lane' | 'phases'>>(
    db,
    `SELECT build_id::VARCHAR AS "buildId", origin, version, status, started_at AS "startedAt", finished_at AS "finishedAt",
       duration_ms AS "durationMs", last_phase AS "lastPhase", reason, error, log_path AS log
     FROM builds WHERE run_id = ${sqlText(runId)} ORDER BY started_at`,
  );
  const phaseRows = await objects<BuildPhase & { buildId: string }>(
    db,
    `SELECT p.build_id::VARCHAR AS "buildId", p.phase, p.started_at AS "startedAt", p.duration_ms AS "durationMs", p.exit_code AS "exitCode"
     FROM build_phases p JOIN builds b USING (build_id) WHERE b.run_id = ${sqlText(runId)} ORDER BY p.started_at`,
  );
  const byBuild = new Map<string, BuildPhase[]>();
  const totals = new Map<string, PhaseTotal>();
  for (const { buildId, ...p } of phaseRows) {
    (byBuild.get(buildId) ?? byBuild.set(buildId, []).get(buildId)!).push(p);
    const t = totals.get(p.phase) ?? totals.set(p.phase, { phase: p.phase, totalMs: 0, builds: 0 }).get(p.phase)!;
    t.totalMs += Number(p.durationMs);
    t.builds++;
  }
  const builds = assignLanes(rows).map((b) => ({ ...b, phases: byBuild.get(b.buildId) ?? [] }));
  const failures = await Promise.all(
    builds
      .filter((b) => b.status === 'failed')
      .map(async (b) => ({
        origin: b.origin,
        buildId: b.buildId,
        lastPhase: b.lastPhase,
        error: b.error,
        log: b.log,
        tail: await logTail(b.log, tailLines),
      })),
  );
  return { run, builds, phases: [...totals.values()], failures };
}

/** A port's builds (newest first, at most `limit`), with the commit of each build's run. */
export async function portDetail(db: BuildDB, origin: string, limit = 200): Promise<PortDetail> {
  const builds = await objects<PortBuild>(
    db,
    `SELECT b.build_id::VARCHAR AS "buildId", b.run_id::VARCHAR AS "runId", b.version, b.status, b.trigger, b.reason,
       b.started_at AS "startedAt", b.finished_at AS "finishedAt", b.duration_ms AS "durationMs", b.last_phase AS "lastPhase",
       b.error, b.log_path AS log, r.git_commit AS "gitCommit"
     FROM builds b LEFT JOIN runs r USING (run_id)
     WHERE b.origin = ${sqlText(origin)} ORDER BY b.started_at DESC LIMIT ${Math.floor(limit)}`,
  );
  const [state] = await objects<{ failedAt: string | null }>(
    db,
    `SELECT failed_at AS "failedAt" FROM port_state WHERE origin = ${sqlText(origin)}`,
  );
  return { origin, builds, lastRebuild: builds.find((b) => b.status === 'success') ?? null, failedAt: state?.failedAt ?? null };
}

/** The log path a build recorded (only recorded paths are ever served), or undefined. */
export async function buildLogPath(db: BuildDB, buildId: string): Promise<string | null | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(buildId)) return undefined;
  const [row] = await objects<{ log: string | null }>(db, `SELECT log_path AS log FROM builds WHERE build_id = ${sqlText(buildId)}`);
  return row ? row.log : undefined;
}
