/**
 * A port's state (port_state): the CRC, build key and package of its last good build, or the
 * key it failed at. Every write is one upsert of some of its columns and `updated_at`; all but a
 * failure clear the failed-at-these-inputs marker.
 */
import { type DuckDBConnection, type DuckDBValue, VARCHAR } from './duckdb.js';
import type { BuildKeyParts } from '../fingerprint/types.js';
import { appendColumns } from './bulkAppend.js';
import type { Database, OpContext, WrapError } from './database.js';
import { CRCError, PackageIndexError } from './errors.js';
import { ts } from './rows.js';
import type { PackageIndexInput, PortSuccessInput, SuccessInput } from './types.js';

/** The CRC half of a success. */
const CRC_COLUMNS = ['crc', 'build_key', 'key_parts'] as const;
/** The package half of a success. */
const PACKAGE_COLUMNS = ['version', 'pkgname', 'pkgfile', 'build_id', 'pkg_identity', 'pkg_checksum', 'pkg_shlibs'] as const;
const SUCCESS_COLUMNS = [...CRC_COLUMNS, ...PACKAGE_COLUMNS] as const;
/** A failure: the key it failed at. */
const FAILURE_COLUMNS = ['failed_key', 'failed_build_id', 'failed_at'] as const;
type Column = (typeof SUCCESS_COLUMNS)[number] | (typeof FAILURE_COLUMNS)[number];

const CRC_PATTERN = /^[0-9a-f]{8}$/i;

/** What an upsert of `columns` sets, each from `source(column)`: the columns and updated_at, and (but for a failure) no failed key. */
function assignments(columns: readonly Column[], source: (column: string) => string): string {
  const set = [...columns, 'updated_at'].map((c) => `${c} = ${source(c)}`);
  if (!columns.includes('failed_key')) set.push('failed_key = NULL', 'failed_build_id = NULL', 'failed_at = NULL');
  return set.join(', ');
}

/** The upsert of `columns` from `rowsSql` (a VALUES list or a SELECT yielding origin, the columns, updated_at). */
function upsertSql(columns: readonly Column[], rowsSql: string): string {
  return `INSERT INTO port_state (origin, ${columns.join(', ')}, updated_at) ${rowsSql}
    ON CONFLICT (origin) DO UPDATE SET ${assignments(columns, (c) => `excluded.${c}`)}`;
}

/**
 * Sets `columns` of one port's row to `values` (in the same order), as upsertSql does: an UPDATE,
 * and an INSERT only for a port not recorded yet. DuckDB's ON CONFLICT DO UPDATE of one row took
 * ~13 ms on a 10,000-port table, the UPDATE ~1 ms (issue 12); the caller's transaction makes the two one write.
 */
async function upsert(c: DuckDBConnection, origin: string, columns: readonly Column[], values: readonly DuckDBValue[], now: Date) {
  const params = [origin, ...values, ts(now)];
  const param = new Map(['origin', ...columns, 'updated_at'].map((name, i) => [name, `$${i + 1}`]));
  const updated = await c.run(`UPDATE port_state SET ${assignments(columns, (col) => param.get(col)!)} WHERE origin = $1`, params);
  if (updated.rowsChanged > 0) return;
  await c.run(`INSERT INTO port_state (origin, ${columns.join(', ')}, updated_at) VALUES (${[...param.values()].join(', ')})`, params);
}

function packageValues(p: PackageIndexInput): DuckDBValue[] {
  return [
    p.version,
    p.pkgname,
    p.pkgfile,
    p.buildId,
    p.package?.identity ?? null,
    p.package?.checksum ?? null,
    p.package ? JSON.stringify(p.package.shlibs) : null,
  ];
}

export function checkCRC(db: Database, operation: string, origin: string, crc: string, buildKey: string): void {
  if (!CRC_PATTERN.test(crc)) {
    throw new CRCError(`${operation} of ${origin}: CRC must be 8 hex digits, got ${JSON.stringify(crc)}`, {
      file: db.file,
      operation,
      origin,
    });
  }
  if (!/^[0-9a-f]{64}$/.test(buildKey)) {
    throw new CRCError(`${operation} of ${origin}: build key must be 64 hex digits (SHA-256), got ${JSON.stringify(buildKey)}`, {
      file: db.file,
      operation,
      origin,
    });
  }
}

function checkPackage(db: Database, operation: string, origin: string, p: PackageIndexInput): void {
  for (const field of ['version', 'buildId', 'pkgfile', 'pkgname'] as const) {
    if (typeof p[field] !== 'string' || p[field] === '') {
      throw new PackageIndexError(`${operation} of ${origin}: ${field} is empty`, {
        file: db.file,
        operation,
        origin,
        buildId: p.buildId,
      });
    }
  }
}

/** A failed write of a port's package as PackageIndexError. */
export function asPackageIndexError(db: Database, operation: string, ctx: OpContext): WrapError {
  return (message, cause) => new PackageIndexError(message, { file: db.file, operation, ...ctx, cause });
}

export function checkSuccess(db: Database, operation: string, origin: string, s: SuccessInput): void {
  checkCRC(db, operation, origin, s.crc, s.buildKey);
  checkPackage(db, operation, origin, s);
}

/** A success's row: its CRC, build key and package, one upsert (inside the caller's transaction). */
export async function writeSuccess(db: Database, c: DuckDBConnection, origin: string, s: SuccessInput, now: Date): Promise<void> {
  const encoded = db.codec.encode([s.keyParts]);
  await db.codec.storeSets(c, encoded.sets);
  await upsert(c, origin, SUCCESS_COLUMNS, [s.crc, s.buildKey, encoded.json[0]!, ...packageValues(s)], now);
}

export function writeFailure(c: DuckDBConnection, origin: string, buildKey: string, buildId: string, now: Date): Promise<void> {
  return upsert(c, origin, FAILURE_COLUMNS, [buildKey, buildId, ts(now)], now);
}

/** Records the CRC and build key a port was successfully built at. Call only after a success. */
export async function updateCRC(db: Database, origin: string, crc: string, buildKey: string, keyParts: BuildKeyParts): Promise<void> {
  const operation = 'updateCRC';
  db.portStates.invalidate([origin]);
  db.assertWritable(operation, { origin });
  checkCRC(db, operation, origin, crc, buildKey);
  await db.write(
    operation,
    { origin },
    async (c) => {
      const encoded = db.codec.encode([keyParts]);
      await db.codec.storeSets(c, encoded.sets);
      await upsert(c, origin, CRC_COLUMNS, [crc, buildKey, encoded.json[0]!], new Date());
    },
    (message, cause) => new CRCError(message, { file: db.file, operation, origin, cause }),
  );
}

/** Records the package a successful build produced. Call only after a success. */
export async function updatePackageIndex(db: Database, origin: string, pkg: PackageIndexInput): Promise<void> {
  const operation = 'updatePackageIndex';
  db.portStates.invalidate([origin]);
  db.assertWritable(operation, { origin });
  checkPackage(db, operation, origin, pkg);
  await db.write(
    operation,
    { origin, buildId: pkg.buildId },
    (c) => upsert(c, origin, PACKAGE_COLUMNS, packageValues(pkg), new Date()),
    asPackageIndexError(db, operation, { origin, buildId: pkg.buildId }),
  );
}

/** updateCRC and updatePackageIndex in one transaction: both or neither. */
export async function recordSuccess(db: Database, origin: string, s: SuccessInput): Promise<void> {
  const operation = 'recordSuccess';
  db.portStates.invalidate([origin]);
  db.assertWritable(operation, { origin });
  checkSuccess(db, operation, origin, s);
  const ctx = { origin, buildId: s.buildId };
  await db.write(operation, ctx, (c) => writeSuccess(db, c, origin, s, new Date()), asPackageIndexError(db, operation, ctx));
}

/** Marks that the port failed at this build key, so it is not retried until its inputs change. */
export async function recordFailure(db: Database, origin: string, buildKey: string, buildId: string): Promise<void> {
  const operation = 'recordFailure';
  db.portStates.invalidate([origin]);
  db.assertWritable(operation, { origin, buildId });
  await db.write(operation, { origin, buildId }, (c) => writeFailure(c, origin, buildKey, buildId, new Date()));
}

/** recordSuccess for many ports in one transaction (benchmarks; `adopt` uses adoptPackages). */
export async function recordSuccesses(db: Database, items: readonly PortSuccessInput[]): Promise<void> {
  const operation = 'recordSuccesses';
  db.assertWritable(operation);
  checkSuccesses(db, operation, items);
  await db.write(operation, {}, (c) => writeSuccesses(db, c, items));
}

export function checkSuccesses(db: Database, operation: string, items: readonly PortSuccessInput[]): void {
  db.portStates.invalidate();
  for (const s of items) checkSuccess(db, operation, s.origin, s);
}

/** The temporary table writeSuccesses stages its items in: origin and the success columns, all VARCHAR. */
export const STAGED_SUCCESSES = 'success_import';

/**
 * Successes column-wise into a temporary table (an appender), then one upsert: row-by-row
 * upserts take minutes for a whole tree. `alsoFromStaged` writes more from the same table
 * (adopt's builds rows) before it is dropped. Inside the caller's transaction.
 */
export async function writeSuccesses(
  db: Database,
  c: DuckDBConnection,
  items: readonly PortSuccessInput[],
  alsoFromStaged?: () => Promise<void>,
): Promise<void> {
  const cols = ['origin', ...SUCCESS_COLUMNS] as const;
  const encoded = db.codec.encode(items.map((s) => s.keyParts));
  const rows = items.map((s, i) => [s.origin, s.crc, s.buildKey, encoded.json[i]!, ...packageValues(s)]);
  await db.codec.storeSets(c, encoded.sets);
  await c.run(`CREATE OR REPLACE TEMP TABLE ${STAGED_SUCCESSES} (${cols.map((n) => `${n} VARCHAR`).join(', ')})`);
  await appendColumns(
    c,
    STAGED_SUCCESSES,
    cols.map(() => VARCHAR),
    cols.map((_, i) => rows.map((r) => r[i]!)),
  );
  const select = SUCCESS_COLUMNS.map((n) => (n === 'build_id' ? 'build_id::UUID' : n));
  await c.run(upsertSql(SUCCESS_COLUMNS, `SELECT origin, ${select.join(', ')}, now() FROM ${STAGED_SUCCESSES}`));
  await alsoFromStaged?.();
  await c.run(`DROP TABLE ${STAGED_SUCCESSES}`);
}
