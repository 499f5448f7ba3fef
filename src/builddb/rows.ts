/**
 * The build database's rows as the product sees them: the columns each read selects, and the
 * mapping from DuckDB's values to BuildRow, PortStateRow, RunRow, PortStatusRow and LastGoodRow.
 */
import { timestampTZValue, type DuckDBValue } from './duckdb.js';
import { jsonSafe } from './readOnlyQuery.js';
import type { BuildKeyParts, PackageIdentity } from '../fingerprint/types.js';
import type { BuildRow, KnownStateSummaryRow, LastGoodRow, PortStateRow, PortStatusRow, RunRow, RunStatus } from './types.js';

export function ts(d: Date): DuckDBValue {
  return timestampTZValue(BigInt(d.getTime()) * 1000n);
}
export function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
export function str(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}
export type DecodeParts = (v: unknown) => BuildKeyParts | null;

export const BUILD_COLUMNS = `build_id::VARCHAR AS build_id, run_id::VARCHAR AS run_id, origin, flavor, pkgname, version, status, crc,
  build_key, key_parts, trigger, reason, started_at, finished_at, duration_ms, last_phase, log_path, error, pid, pkg_identity, pkg_checksum`;
export const PORT_STATE_COLUMNS = `origin, crc, build_key, key_parts, version, pkgname, pkgfile, build_id::VARCHAR AS build_id,
  updated_at, failed_key, failed_build_id::VARCHAR AS failed_build_id, failed_at, pkg_identity, pkg_checksum, pkg_shlibs`;
/** KnownStateRow's columns: a third of port_state's, and none that converts slowly (timestamps, UUIDs). */
export const KNOWN_STATE_COLUMNS = `origin, build_key, key_parts, failed_key, pkgfile, version, pkg_identity, pkg_checksum, pkg_shlibs`;
/** KnownStateSummaryRow's: the same but the key parts (their column, and the file sets they name, are most of the read). */
export const KNOWN_SUMMARY_COLUMNS = `origin, build_key, failed_key, pkgfile, version, pkg_identity, pkg_checksum, pkg_shlibs`;
export const RUN_COLUMNS = `run_id::VARCHAR AS run_id, trigger, git_commit, started_at, finished_at, status, total, success, failed,
  skipped, ignored, blocked, cutoff, duration_ms, error, pid`;

export function toBuildRow(r: Record<string, unknown>, parts: DecodeParts): BuildRow {
  return {
    buildId: String(r.build_id),
    runId: str(r.run_id),
    origin: String(r.origin),
    flavor: String(r.flavor ?? ''),
    pkgname: str(r.pkgname),
    version: str(r.version),
    status: r.status as BuildRow['status'],
    crc: str(r.crc),
    buildKey: str(r.build_key),
    keyParts: parts(r.key_parts),
    trigger: str(r.trigger),
    reason: str(r.reason),
    startedAt: r.started_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
    durationMs: num(r.duration_ms),
    lastPhase: str(r.last_phase),
    logPath: str(r.log_path),
    error: str(r.error),
    pid: num(r.pid),
    package: r.pkg_identity ? { identity: String(r.pkg_identity), checksum: String(r.pkg_checksum ?? '') } : null,
  };
}

/**
 * A port_state row whose key parts are decoded when first read: a plan needs them only for the
 * ports whose key changed (to say what changed), and a whole tree's parts are tens of MB of JSON.
 */
// Its plain fields are PortStateRow's (declaration merging: not written out twice).
interface StoredPortState extends Omit<PortStateRow, 'keyParts'> {}
class StoredPortState implements PortStateRow {
  private raw: unknown;
  private decoded: BuildKeyParts | null | undefined;
  private readonly decodeParts: DecodeParts;

  constructor(r: Record<string, unknown>, decodeParts: DecodeParts) {
    this.origin = String(r.origin);
    this.crc = str(r.crc);
    this.buildKey = str(r.build_key);
    this.version = str(r.version);
    this.pkgname = str(r.pkgname);
    this.pkgfile = str(r.pkgfile);
    this.buildId = str(r.build_id);
    this.updatedAt = r.updated_at as Date;
    this.failedKey = str(r.failed_key);
    this.failedBuildId = str(r.failed_build_id);
    this.failedAt = (r.failed_at as Date | null) ?? null;
    this.package = packageOf(r);
    this.raw = r.key_parts;
    this.decoded = undefined;
    this.decodeParts = decodeParts;
  }

  get keyParts(): BuildKeyParts | null {
    if (this.decoded === undefined) {
      this.decoded = this.decodeParts(this.raw);
      this.raw = undefined;
    }
    return this.decoded;
  }

  toJSON(): PortStateRow {
    const { raw: _r, decoded: _d, decodeParts: _p, ...fields } = this;
    return { ...fields, keyParts: this.keyParts };
  }
}

/** A row of KNOWN_SUMMARY_COLUMNS. */
export function toKnownStateSummaryRow(r: Record<string, unknown>): KnownStateSummaryRow {
  return {
    origin: String(r.origin),
    buildKey: str(r.build_key),
    failedKey: str(r.failed_key),
    pkgfile: str(r.pkgfile),
    version: str(r.version),
    package: packageOf(r),
  };
}

/** The package columns (pkg_identity, pkg_checksum, pkg_shlibs) of a port_state row. */
function packageOf(r: Record<string, unknown>): PackageIdentity | null {
  return r.pkg_identity
    ? {
        identity: String(r.pkg_identity),
        checksum: String(r.pkg_checksum ?? ''),
        shlibs: r.pkg_shlibs ? (JSON.parse(String(r.pkg_shlibs)) as string[]) : [],
      }
    : null;
}

export function toPortStateRow(r: Record<string, unknown>, parts: DecodeParts): PortStateRow {
  return new StoredPortState(r, parts);
}

export function toRunRow(r: Record<string, unknown>): RunRow {
  return {
    runId: String(r.run_id),
    trigger: String(r.trigger),
    gitCommit: str(r.git_commit),
    startedAt: r.started_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
    status: r.status as RunStatus,
    total: num(r.total) ?? 0,
    success: num(r.success) ?? 0,
    failed: num(r.failed) ?? 0,
    skipped: num(r.skipped) ?? 0,
    ignored: num(r.ignored) ?? 0,
    blocked: num(r.blocked) ?? 0,
    cutoff: num(r.cutoff) ?? 0,
    durationMs: num(r.duration_ms),
    error: str(r.error),
    pid: num(r.pid),
  };
}

/** `status`'s read: port_state joined with each port's latest build; `$1…$n` are the origins it is narrowed to (none: every port). */
export function portStatusSql(origins: number): string {
  const where = origins ? `WHERE o.origin IN (${Array.from({ length: origins }, (_, i) => `$${i + 1}`).join(', ')})` : '';
  return `WITH last AS (
      SELECT * FROM builds QUALIFY row_number() OVER (PARTITION BY origin ORDER BY started_at DESC) = 1
    ), o AS (SELECT origin FROM port_state UNION SELECT origin FROM builds)
    SELECT o.origin, coalesce(ps.version, last.version) AS version, coalesce(ps.pkgname, last.pkgname) AS pkgname, ps.pkgfile,
      last.status AS last_status, last.build_id::VARCHAR AS last_build_id, last.started_at AS last_started,
      last.finished_at AS last_finished, last.duration_ms AS last_duration_ms, last.last_phase, last.error AS last_error,
      last.log_path, ps.build_id::VARCHAR AS good_build_id, ps.crc, ps.build_key, ps.failed_key, ps.updated_at
    FROM o LEFT JOIN port_state ps USING (origin) LEFT JOIN last USING (origin)
    ${where}
    ORDER BY o.origin`;
}

export function toPortStatusRow(row: Record<string, unknown>): PortStatusRow {
  const v = jsonSafe(row) as Record<string, string | number | null>;
  return {
    origin: String(v.origin),
    version: v.version as string | null,
    pkgname: v.pkgname as string | null,
    pkgfile: v.pkgfile as string | null,
    lastStatus: v.last_status as string | null,
    lastBuildId: v.last_build_id as string | null,
    lastStarted: v.last_started as string | null,
    lastFinished: v.last_finished as string | null,
    lastDurationMs: v.last_duration_ms as number | null,
    lastPhase: v.last_phase as string | null,
    lastError: v.last_error as string | null,
    log: v.log_path as string | null,
    goodBuildId: v.good_build_id as string | null,
    crc: v.crc as string | null,
    buildKey: v.build_key as string | null,
    failedKey: v.failed_key as string | null,
    updatedAt: v.updated_at as string | null,
  };
}

/** `why`'s read: a port's last successful build and the commit of its run; `$1` is the origin. */
export const LAST_GOOD_SQL = `SELECT ps.build_id::VARCHAR AS build_id, b.finished_at, ps.version, r.git_commit
  FROM port_state ps LEFT JOIN builds b ON b.build_id = ps.build_id LEFT JOIN runs r ON r.run_id = b.run_id
  WHERE ps.origin = $1 AND ps.build_id IS NOT NULL`;

export function toLastGoodRow(row: Record<string, unknown>): LastGoodRow {
  const v = jsonSafe(row) as Record<string, string | null>;
  return { buildId: String(v.build_id), finishedAt: v.finished_at ?? null, version: v.version ?? null, gitCommit: v.git_commit ?? null };
}
