/**
 * Runs (one per pass): their start and end with the counts, the packages a run pruned, and the
 * run that adopts an existing repository.
 */
import type { DuckDBValue } from './duckdb.js';
import type { Database } from './database.js';
import { RecordNotFoundError, RecordValidationError } from './errors.js';
import { newId } from './ids.js';
import { checkSuccesses, STAGED_SUCCESSES, writeSuccesses } from './portState.js';
import { ts } from './rows.js';
import type { FinishRunInput, PortSuccessInput, PrunedPackage, RunStatus, StartRunInput } from './types.js';

const RUN_STATUSES: readonly RunStatus[] = ['success', 'failed', 'interrupted', 'error'];

export async function startRun(db: Database, input: StartRunInput): Promise<string> {
  const operation = 'startRun';
  db.assertWritable(operation);
  if (!input.trigger) {
    throw new RecordValidationError('startRun needs a trigger', { file: db.file, operation, field: 'trigger', value: input.trigger });
  }
  const runId = newId();
  await db.write(operation, {}, (c) =>
    c.run(`INSERT INTO runs (run_id, trigger, git_commit, started_at, status, pid) VALUES ($1, $2, $3, $4, 'running', $5)`, [
      runId,
      input.trigger,
      input.gitCommit ?? null,
      ts(input.startedAt ?? new Date()),
      process.pid,
    ]),
  );
  return runId;
}

export async function finishRun(db: Database, runId: string, status: RunStatus, counts: FinishRunInput = {}): Promise<void> {
  const operation = 'finishRun';
  db.assertWritable(operation);
  if (!RUN_STATUSES.includes(status)) {
    throw new RecordValidationError(`finishRun: status must be one of ${RUN_STATUSES.join(', ')}, not ${JSON.stringify(status)}`, {
      file: db.file,
      operation,
      field: 'status',
      value: status,
    });
  }
  const changed = await db.write(operation, {}, async (c) => {
    const r = await c.run(
      `UPDATE runs SET status = $2, finished_at = $3, duration_ms = date_diff('millisecond', started_at, $3),
         total = $4, success = $5, failed = $6, skipped = $7, ignored = $8, blocked = $9, error = $10, cutoff = $11
       WHERE run_id = $1`,
      [
        runId,
        status,
        ts(counts.finishedAt ?? new Date()),
        counts.total ?? 0,
        counts.success ?? 0,
        counts.failed ?? 0,
        counts.skipped ?? 0,
        counts.ignored ?? 0,
        counts.blocked ?? 0,
        counts.error ?? null,
        counts.cutoff ?? 0,
      ],
    );
    return r.rowsChanged;
  });
  if (changed === 0) throw new RecordNotFoundError(`finishRun: no run ${runId} in ${db.file}`, { file: db.file, operation, runId });
}

/** Records pruned package files (policy.prune) of a run, in one statement. */
export async function recordPrunes(db: Database, runId: string | null, items: readonly PrunedPackage[]): Promise<void> {
  const operation = 'recordPrunes';
  db.assertWritable(operation);
  if (items.length === 0) return;
  const values = items.map((_, i) => `($1, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4}, $${i * 4 + 5}, now())`).join(', ');
  const params: DuckDBValue[] = [runId];
  for (const p of items) params.push(p.pkgfile, p.origin, p.version, p.reason);
  await db.write(operation, {}, (c) => c.run(`INSERT INTO pruned_packages VALUES ${values}`, params));
}

/**
 * Adopting an existing repository, in one transaction: a run (trigger `adopt`, its counts), one
 * `success` build per port (no duration: nothing was built; reason `adopted`) and its port_state
 * row with the package's identity. Returns the run id.
 */
export async function adoptPackages(
  db: Database,
  run: StartRunInput & { total: number; skipped: number },
  items: readonly PortSuccessInput[],
): Promise<string> {
  const operation = 'adoptPackages';
  db.assertWritable(operation);
  checkSuccesses(db, operation, items);
  const runId = newId();
  const now = ts(run.startedAt ?? new Date());
  await db.write(operation, {}, async (c) => {
    await c.run(
      `INSERT INTO runs (run_id, trigger, git_commit, started_at, finished_at, status, total, success, failed, skipped, ignored, blocked, cutoff, duration_ms, pid)
       VALUES ($1, $2, $3, $4, now(), 'success', $5, $6, 0, $7, 0, 0, 0, date_diff('millisecond', $4, now()), $8)`,
      [runId, run.trigger, run.gitCommit ?? null, now, run.total, items.length, run.skipped, process.pid],
    );
    await writeSuccesses(db, c, items, async () => {
      await c.run(
        `INSERT INTO builds (build_id, run_id, origin, flavor, pkgname, version, status, crc, build_key, key_parts, trigger, reason,
             started_at, finished_at, pid, pkg_identity, pkg_checksum)
           SELECT build_id::UUID, $1, origin, CASE WHEN contains(origin, '@') THEN split_part(origin, '@', 2) ELSE '' END, pkgname, version,
             'success', crc, build_key, key_parts, $2, 'adopted: its package was in the repository', now(), now(), $3, pkg_identity, pkg_checksum
           FROM ${STAGED_SUCCESSES}`,
        [runId, run.trigger, process.pid],
      );
    });
  });
  return runId;
}
