/**
 * Builds and their phases: a build's row from its start to its end (and, at the end, its port's
 * state in the same transaction), the phases it ran, the host that ran it, and history in bulk.
 */
import type { DuckDBConnection, DuckDBValue } from './duckdb.js';
import { appendBuildHistory as appendHistory } from './bulkAppend.js';
import type { Database } from './database.js';
import { RecordNotFoundError, RecordValidationError } from './errors.js';
import { newId } from './ids.js';
import { asPackageIndexError, checkSuccess, writeFailure, writeSuccess } from './portState.js';
import { ts } from './rows.js';
import type { BuildEndPort, BuildHistoryRecord, FinishBuildInput, FinishedBuildStatus, PhaseInput, StartBuildInput } from './types.js';

const FINISHED_STATUSES: readonly FinishedBuildStatus[] = ['success', 'failed', 'interrupted'];

export async function startBuild(db: Database, input: StartBuildInput): Promise<string> {
  const operation = 'startBuild';
  const ctx = { origin: input.origin };
  db.assertWritable(operation, ctx);
  if (!input.origin || !/^[^/\s]+\/[^/\s]+$/.test(input.origin)) {
    throw new RecordValidationError(`startBuild: ${JSON.stringify(input.origin)} is not an origin (category/name[@flavor])`, {
      file: db.file,
      operation,
      ...ctx,
      field: 'origin',
      value: input.origin,
    });
  }
  const buildId = input.buildId ?? newId();
  const flavor = input.flavor ?? (input.origin.includes('@') ? input.origin.slice(input.origin.indexOf('@') + 1) : '');
  const encoded = db.codec.encode([input.keyParts]);
  await db.write(operation, { ...ctx, buildId }, async (c) => {
    await db.codec.storeSets(c, encoded.sets);
    await c.run(
      `INSERT INTO builds (build_id, run_id, origin, flavor, pkgname, version, status, crc, build_key, key_parts, trigger, reason,
         started_at, log_path, pid)
       VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        buildId,
        input.runId ?? null,
        input.origin,
        flavor,
        input.pkgname,
        input.version,
        input.crc,
        input.buildKey,
        encoded.json[0]!,
        input.trigger ?? null,
        input.reason,
        ts(input.startedAt ?? new Date()),
        input.logPath,
        process.pid,
      ],
    );
  });
  return buildId;
}

function validatePhase(db: Database, buildId: string, p: PhaseInput): void {
  const bad = (field: string, value: unknown, what: string) =>
    new RecordValidationError(`recordPhase (build ${buildId}): ${field} ${what}, got ${JSON.stringify(value)}`, {
      file: db.file,
      operation: 'recordPhase',
      buildId,
      field,
      value,
    });
  if (!p.phase) throw bad('phase', p.phase, 'must be a phase name');
  if (!(p.startedAt instanceof Date) || Number.isNaN(p.startedAt.getTime())) throw bad('startedAt', p.startedAt, 'must be a valid Date');
  if (!Number.isFinite(p.durationMs) || p.durationMs < 0) throw bad('durationMs', p.durationMs, 'must be a non-negative number');
  if (!Number.isInteger(p.exitCode)) throw bad('exitCode', p.exitCode, 'must be an integer');
}

/** Records several phases of one build in one statement. */
export async function recordPhases(db: Database, buildId: string, phases: PhaseInput[]): Promise<void> {
  db.assertWritable('recordPhase', { buildId });
  if (phases.length === 0) return;
  for (const p of phases) validatePhase(db, buildId, p);
  const values = phases.map((_, i) => `($1, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4}, $${i * 4 + 5})`).join(', ');
  const params: DuckDBValue[] = [buildId];
  for (const p of phases) params.push(p.phase, ts(p.startedAt), Math.round(p.durationMs), p.exitCode);
  await db.write('recordPhase', { buildId }, (c) => c.run(`INSERT INTO build_phases VALUES ${values}`, params));
}

/** Records the host that runs a build: the agent that took it in a distributed pass. */
export async function setBuildHost(db: Database, buildId: string, host: string): Promise<void> {
  const operation = 'setBuildHost';
  db.assertWritable(operation, { buildId });
  const changed = await db.write(
    operation,
    { buildId },
    async (c) => (await c.run(`UPDATE builds SET host = $2 WHERE build_id = $1`, [buildId, host])).rowsChanged,
  );
  if (changed === 0)
    throw new RecordNotFoundError(`${operation}: no build ${buildId} in ${db.file}`, { file: db.file, operation, buildId });
}

function checkFinishedStatus(db: Database, operation: string, buildId: string, status: FinishedBuildStatus): void {
  if (!FINISHED_STATUSES.includes(status)) {
    throw new RecordValidationError(
      `${operation} (build ${buildId}): status must be one of ${FINISHED_STATUSES.join(', ')}, not ${JSON.stringify(status)}`,
      { file: db.file, operation, buildId, field: 'status', value: status },
    );
  }
}

/** The build row's end: status, time, duration, last phase, error, package and usage. RecordNotFoundError when there is no such build. */
async function writeBuildEnd(
  db: Database,
  c: DuckDBConnection,
  operation: string,
  buildId: string,
  status: FinishedBuildStatus,
  info: FinishBuildInput,
): Promise<void> {
  const r = await c.run(
    `UPDATE builds SET status = $2, finished_at = $3, duration_ms = greatest(0, date_diff('millisecond', started_at, $3)),
       last_phase = coalesce($4, last_phase), error = $5, pkg_identity = $6, pkg_checksum = $7, peak_memory_bytes = $8, cpu_ms = $9
     WHERE build_id = $1`,
    [
      buildId,
      status,
      ts(info.finishedAt ?? new Date()),
      info.lastPhase ?? null,
      info.error ?? null,
      info.package?.identity ?? null,
      info.package?.checksum ?? null,
      info.usage?.peakMemoryBytes ?? null,
      info.usage?.cpuMs ?? null,
    ],
  );
  if (r.rowsChanged === 0)
    throw new RecordNotFoundError(`${operation}: no build ${buildId} in ${db.file}`, { file: db.file, operation, buildId });
}

export async function finishBuild(db: Database, buildId: string, status: FinishedBuildStatus, info: FinishBuildInput = {}): Promise<void> {
  const operation = 'finishBuild';
  db.assertWritable(operation, { buildId });
  checkFinishedStatus(db, operation, buildId, status);
  await db.write(operation, { buildId }, (c) => writeBuildEnd(db, c, operation, buildId, status, info));
}

/**
 * The end of a build, one transaction: the build row's end (as finishBuild) and, for a success,
 * the port's state (as recordSuccess); for a failure that is not transient, the failed key (as
 * recordFailure). Any part failing rolls back all of it.
 */
export async function completeBuild(
  db: Database,
  buildId: string,
  status: FinishedBuildStatus,
  info: FinishBuildInput = {},
  port?: BuildEndPort,
): Promise<void> {
  const operation = 'completeBuild';
  const success = port && 'success' in port ? port.success : undefined;
  const failure = port && 'failure' in port ? port.failure : undefined;
  const origin = success?.origin ?? failure?.origin;
  const ctx = { buildId, ...(origin ? { origin } : {}) };
  if (origin) db.portStates.invalidate([origin]);
  db.assertWritable(operation, ctx);
  checkFinishedStatus(db, operation, buildId, status);
  if ((success && status !== 'success') || (failure && status !== 'failed')) {
    throw new RecordValidationError(
      `${operation} (build ${buildId}): a ${success ? 'success' : 'failure'} of ${origin} cannot end a build with status ${status}`,
      { file: db.file, operation, ...ctx, field: 'status', value: status },
    );
  }
  if (success) checkSuccess(db, operation, success.origin, success);
  await db.write(
    operation,
    ctx,
    async (c) => {
      await writeBuildEnd(db, c, operation, buildId, status, info);
      if (success) await writeSuccess(db, c, success.origin, success, new Date());
      else if (failure) await writeFailure(c, failure.origin, failure.buildKey, buildId, new Date());
    },
    success ? asPackageIndexError(db, operation, ctx) : undefined,
  );
}

/**
 * Appends finished builds with their phases in bulk (DuckDB appenders, one transaction).
 * History only: the port_state index is not touched.
 */
export async function appendBuildHistory(db: Database, records: BuildHistoryRecord[]): Promise<string[]> {
  db.assertWritable('appendBuildHistory');
  return db.write('appendBuildHistory', {}, (c) => appendHistory(c, records));
}
