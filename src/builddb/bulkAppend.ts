import { newId } from './ids.js';
import {
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBValue,
  BIGINT,
  DuckDBDataChunk,
  INTEGER,
  TIMESTAMPTZ,
  VARCHAR,
  timestampTZValue,
} from './duckdb.js';
import type { BuildHistoryRecord } from './types.js';

/** Rows per data chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

/**
 * Column layouts of `builds` and `build_phases` as created by the migrations (appenders fill every
 * column in table order, so a migration that adds a column must extend these).
 */
const BUILD_TYPES: DuckDBType[] = [
  VARCHAR,
  VARCHAR,
  VARCHAR,
  VARCHAR,
  VARCHAR,
  VARCHAR,
  VARCHAR,
  VARCHAR,
  VARCHAR,
  VARCHAR,
  VARCHAR,
  VARCHAR,
  TIMESTAMPTZ,
  TIMESTAMPTZ,
  BIGINT,
  VARCHAR,
  VARCHAR,
  VARCHAR,
  INTEGER,
  VARCHAR,
  VARCHAR,
  BIGINT,
  BIGINT, // pkg_identity, pkg_checksum, peak_memory_bytes, cpu_ms
  VARCHAR, // host (migration 4)
];
const PHASE_TYPES: DuckDBType[] = [VARCHAR, VARCHAR, TIMESTAMPTZ, BIGINT, INTEGER];

function micros(d: Date): DuckDBValue {
  return timestampTZValue(BigInt(d.getTime()) * 1000n);
}

/** Writes rows column-wise through data chunks: far fewer native calls than value-by-value appends. */
export async function appendColumns(c: DuckDBConnection, table: string, types: DuckDBType[], columns: DuckDBValue[][]): Promise<void> {
  const appender = await c.createAppender(table);
  try {
    const rows = columns[0]?.length ?? 0;
    for (let off = 0; off < rows; off += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, rows - off);
      const chunk = DuckDBDataChunk.create(types, n);
      columns.forEach((col, i) => chunk.setColumnValues(i, col.slice(off, off + n)));
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** Appends builds and their phases; runs inside the caller's transaction. Returns the build ids. */
export async function appendBuildHistory(c: DuckDBConnection, records: BuildHistoryRecord[]): Promise<string[]> {
  const b: DuckDBValue[][] = BUILD_TYPES.map(() => []);
  const p: DuckDBValue[][] = PHASE_TYPES.map(() => []);
  const ids: string[] = [];
  for (const r of records) {
    const id = r.buildId ?? newId();
    ids.push(id);
    const lastPhase = r.lastPhase ?? r.phases[r.phases.length - 1]?.phase ?? null;
    const flavor = r.flavor ?? (r.origin.includes('@') ? r.origin.slice(r.origin.indexOf('@') + 1) : '');
    const row: DuckDBValue[] = [
      id,
      r.runId ?? null,
      r.origin,
      flavor,
      r.pkgname,
      r.version,
      r.status,
      r.crc,
      r.buildKey,
      r.keyParts ? JSON.stringify(r.keyParts) : null,
      r.trigger ?? null,
      r.reason ?? null,
      micros(r.startedAt),
      micros(r.finishedAt),
      BigInt(Math.max(0, r.finishedAt.getTime() - r.startedAt.getTime())),
      lastPhase,
      r.logPath ?? null,
      r.error ?? null,
      null,
      null,
      null,
      null,
      null,
      r.host ?? null,
    ];
    row.forEach((v, i) => b[i]!.push(v));
    for (const ph of r.phases) {
      p[0]!.push(id);
      p[1]!.push(ph.phase);
      p[2]!.push(micros(ph.startedAt));
      p[3]!.push(BigInt(Math.round(ph.durationMs)));
      p[4]!.push(ph.exitCode);
    }
  }
  await appendColumns(c, 'builds', BUILD_TYPES, b);
  await appendColumns(c, 'build_phases', PHASE_TYPES, p);
  return ids;
}
