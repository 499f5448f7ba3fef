/**
 * Build database benchmark.
 *   tsx bench/builddb.ts [--records 100000] [--analytics-records 1000000] [--per-call-records 2000]
 * (1) the engine's path: per build, as the scheduler records one (startBuild, recordPhases with 8
 *     phases, finishBuild, recordSuccess); target ≤ 5 ms of database time per build, a quarter of
 *     the scheduler's per-port overhead target.
 * (2) history import (appendBuildHistory, bulk appenders; not used by passes): target ≥ 20,000 records/s.
 * (3) generates N records inside DuckDB and times the named analytics queries; target ≤ 300 ms each.
 * Results: ok/MISSED per figure, and bench/out/builddb.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { ANALYTICS, type AnalyticsName } from '../src/builddb/analytics.js';
import { BuildDB } from '../src/builddb/db.js';
import type { BuildHistoryRecord, PhaseInput } from '../src/builddb/types.js';
import { computeBuildKey } from '../src/fingerprint/buildKey.js';
import type { BuildKeyParts } from '../src/fingerprint/types.js';
import { report, type Figure } from './lib.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    'analytics-records': { type: 'string', default: '1000000' },
    'per-call-records': { type: 'string', default: '2000' },
  },
});
const RECORDS = Number(values.records);
const ANALYTICS_RECORDS = Number(values['analytics-records']);
const PER_CALL = Number(values['per-call-records']);
const PHASES = ['fetch', 'checksum', 'extract', 'patch', 'configure', 'build', 'stage', 'package'];
const WRITE_TARGET = 20_000;
const QUERY_TARGET_MS = 300;
const PER_BUILD_TARGET_MS = 5;

const dir = mkdtempSync(join(tmpdir(), 'portsync-bench-builddb-'));
const rows: Figure[] = [];

function partsFor(i: number): BuildKeyParts {
  return {
    portCrc: ((i * 2654435761) >>> 0).toString(16).padStart(8, '0'),
    makefiles: { 'Mk/bsd.port.mk': '11111111', 'Mk/Uses/gmake.mk': '22222222' },
    vars: {},
    options: ['DOCS', 'NLS'],
    environment: { backend: 'chroot', make: 'bmake' },
    dependencies: { 'devel/gmake': 'a'.repeat(64) },
  };
}

function phasesFrom(start: number): PhaseInput[] {
  return PHASES.map((phase, k) => ({ phase, startedAt: new Date(start + k * 1000), durationMs: 1000, exitCode: 0 }));
}

async function perCall(db: BuildDB): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < PER_CALL; i++) {
    const origin = `cat${i % 50}/port${i}`;
    const p = partsFor(i);
    const key = computeBuildKey(p);
    const start = Date.now();
    const buildId = await db.startBuild({
      origin,
      pkgname: `port${i}-1.0`,
      version: '1.0',
      crc: p.portCrc,
      buildKey: key,
      keyParts: p,
      logPath: `/logs/${i}.log`,
      reason: 'new',
    });
    await db.recordPhases(buildId, phasesFrom(start));
    await db.finishBuild(buildId, 'success', { lastPhase: 'package' });
    await db.recordSuccess(origin, {
      crc: p.portCrc,
      buildKey: key,
      keyParts: p,
      version: '1.0',
      buildId,
      pkgfile: `port${i}-1.0.pkg`,
      pkgname: `port${i}-1.0`,
    });
  }
  const s = (performance.now() - t0) / 1000;
  rows.push({
    figure: `engine path: database time per build (${PER_CALL.toLocaleString()} builds × 8 phases)`,
    value: Math.round(((s * 1000) / PER_CALL) * 100) / 100,
    unit: 'ms',
    max: PER_BUILD_TARGET_MS,
  });
}

async function bulk(db: BuildDB): Promise<void> {
  const batch = 10_000;
  const base = Date.now() - RECORDS * 1000;
  const t0 = performance.now();
  for (let off = 0; off < RECORDS; off += batch) {
    const records: BuildHistoryRecord[] = [];
    for (let i = off; i < Math.min(RECORDS, off + batch); i++) {
      const start = base + i * 1000;
      const p = partsFor(i);
      records.push({
        origin: `cat${i % 50}/port${i % 20_000}`,
        pkgname: `port${i % 20_000}-1.0`,
        version: '1.0',
        status: i % 10 === 0 ? 'failed' : 'success',
        crc: p.portCrc,
        buildKey: computeBuildKey(p),
        keyParts: p,
        reason: 'port-changed',
        startedAt: new Date(start),
        finishedAt: new Date(start + 8000),
        logPath: `/logs/${i}.log`,
        phases: phasesFrom(start),
      });
    }
    await db.appendBuildHistory(records);
  }
  const s = (performance.now() - t0) / 1000;
  const rate = RECORDS / s;
  rows.push({
    figure: `history import: appendBuildHistory (${RECORDS.toLocaleString()} records × 8 phases)`,
    value: Math.round(rate),
    unit: 'records/s',
    min: WRITE_TARGET,
  });
}

async function generate(path: string, n: number): Promise<number> {
  const db = await BuildDB.open(path);
  await db.close();
  const t0 = performance.now();
  const inst = await DuckDBInstance.create(path);
  const c = await inst.connect();
  const uuidOf = (e: string) => `('00000000-0000-4000-8000-' || lpad(to_hex(${e}), 12, '0'))::UUID`;
  // Named columns: later migrations add columns at the end (left NULL here).
  await c.run(`INSERT INTO builds (build_id, run_id, origin, flavor, pkgname, version, status, crc, build_key, key_parts, trigger, reason, started_at, finished_at, duration_ms, last_phase, log_path, error, pid)
      SELECT ${uuidOf('i')}, NULL, 'cat' || (i % 50) || '/port' || (i % 20000), '', 'port-1.0', '1.0',
      CASE WHEN hash(i) % 10 = 0 THEN 'failed' ELSE 'success' END, '00000000', repeat('0', 64), NULL, 'watch', 'port-changed',
      TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i * 60), TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i * 60 + 30 + hash(i) % 3600),
      30000 + (hash(i) % 3600) * 1000, 'package', '/logs/x.log', NULL, NULL FROM range(${n}) t(i)`);
  await c.run(`INSERT INTO build_phases SELECT ${uuidOf('i // 8')}, (['fetch','checksum','extract','patch','configure','build','stage','package'])[i % 8 + 1],
      TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds((i // 8) * 60 + i % 8), (hash(i) % 600) * 100, CASE WHEN hash(i) % 80 = 0 THEN 1 ELSE 0 END
      FROM range(${n * 8}) t(i)`);
  await c.run(`INSERT INTO runs (run_id, trigger, git_commit, started_at, finished_at, status, total, success, failed, skipped, ignored, blocked, duration_ms, error, pid)
      SELECT uuid(), 'watch', NULL, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i * 600), NULL, 'success', 100, 90, 5, 5, 0, 0, 60000, NULL, NULL FROM range(${Math.ceil(n / 100)}) t(i)`);
  c.closeSync();
  inst.closeSync();
  return performance.now() - t0;
}

async function analytics(path: string): Promise<void> {
  const genMs = await generate(path, ANALYTICS_RECORDS);
  rows.push({
    figure: `generate ${ANALYTICS_RECORDS.toLocaleString()} records + ${(ANALYTICS_RECORDS * 8).toLocaleString()} phases (SQL range())`,
    value: Math.round(genMs),
    unit: 'ms',
  });
  const db = await BuildDB.open(path, { readOnly: true });
  try {
    for (const name of Object.keys(ANALYTICS) as AnalyticsName[]) {
      const sql = ANALYTICS[name]({ limit: 20 });
      const times: number[] = [];
      let count = 0;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        count = (await db.query(sql)).rows.length;
        times.push(performance.now() - t0);
      }
      const worst = Math.max(...times);
      rows.push({
        figure: `analytics ${name} (${count} rows; worst of 3, best ${Math.min(...times).toFixed(0)} ms)`,
        value: Math.round(worst),
        unit: 'ms',
        max: QUERY_TARGET_MS,
      });
    }
  } finally {
    await db.close();
  }
}

try {
  const db = await BuildDB.open(join(dir, 'writes.duckdb'));
  try {
    await perCall(db);
    await bulk(db);
  } finally {
    await db.close();
  }
  await analytics(join(dir, 'analytics.duckdb'));
  report('builddb', 'build database', rows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
