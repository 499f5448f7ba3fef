/**
 * The coordinator's write load on the build database (issue 12: the write connection saturates).
 *   tsx bench/builddb-writes.ts [--builds 500] [--concurrency 8] [--history 20000] [--ports 10000]
 * A real DuckDB file holding `--history` past builds and `--ports` ports' state; then `--builds`
 * instant builds, `--concurrency` at a time, each recorded as a pass records it (recording.ts):
 * startBuild, its 8 phases one by one, completeBuild with the port's success, each write after
 * the build's previous one. Reports builds/s, writes/s and commits, and the median time of a
 * lone startBuild and completeBuild on the same file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BuildDB } from '../src/builddb/db.js';
import type { BuildHistoryRecord, PortSuccessInput } from '../src/builddb/types.js';
import { computeBuildKey } from '../src/fingerprint/buildKey.js';
import type { BuildKeyParts } from '../src/fingerprint/types.js';
import { report, type Figure } from './lib.js';

const { values } = parseArgs({
  options: {
    builds: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '8' },
    history: { type: 'string', default: '20000' },
    ports: { type: 'string', default: '10000' },
  },
});
const BUILDS = Number(values.builds);
const CONCURRENCY = Number(values.concurrency);
const HISTORY = Number(values.history);
const PORTS = Number(values.ports);
const PHASES = ['fetch', 'checksum', 'extract', 'patch', 'configure', 'build', 'stage', 'package'];
/** Builds per second the coordinator must record to keep 20 hosts × 8 workers of short builds busy. */
const BUILDS_PER_S_TARGET = 40;
const LONE_TARGET_MS = 5;

const hex = (i: number, n: number) => ((i * 2654435761) >>> 0).toString(16).padStart(8, '0').repeat(8).slice(0, n);
/** One framework object for every port, as the planner makes it (a real tree's Mk/ has ~300 files). */
const FRAMEWORK = Object.fromEntries(Array.from({ length: 300 }, (_, k) => [`Mk/Scripts/s${k}.sh`, hex(k, 8)]));

function partsFor(i: number): BuildKeyParts {
  return {
    portCrc: hex(i, 8),
    makefiles: Object.fromEntries(Array.from({ length: 12 }, (_, k) => [`Mk/Uses/u${(i + k) % 90}.mk`, hex(i + k, 8)])),
    framework: FRAMEWORK,
    vars: { PREFIX: '/usr/local', ARCH: 'amd64' },
    options: ['DOCS', 'NLS'],
    environment: { backend: 'chroot', make: 'bmake' },
    dependencies: Object.fromEntries(
      Array.from({ length: 8 }, (_, k) => [
        `devel/dep${(i + k) % 500}`,
        { use: 'build' as const, version: '1.0', key: hex(i * 7 + k, 64), package: hex(i * 3 + k, 64) },
      ]),
    ),
  };
}

const originOf = (i: number) => `cat${i % 60}/port${i % PORTS}`;

async function seed(db: BuildDB): Promise<void> {
  const now = Date.now();
  for (let off = 0; off < HISTORY; off += 10_000) {
    const records: BuildHistoryRecord[] = [];
    for (let i = off; i < Math.min(HISTORY, off + 10_000); i++) {
      const p = partsFor(i);
      const startedAt = new Date(now - (HISTORY - i) * 60_000);
      records.push({
        origin: originOf(i),
        pkgname: `port${i}-1.0`,
        version: '1.0',
        status: 'success',
        crc: p.portCrc,
        buildKey: computeBuildKey(p),
        keyParts: p,
        reason: 'seed',
        startedAt,
        finishedAt: new Date(startedAt.getTime() + 30_000),
        phases: PHASES.map((phase, k) => ({ phase, startedAt: new Date(startedAt.getTime() + k * 1000), durationMs: 1000, exitCode: 0 })),
      });
    }
    await db.appendBuildHistory(records);
  }
  const states: PortSuccessInput[] = [];
  for (let i = 0; i < PORTS; i++) {
    const p = partsFor(i);
    states.push({
      origin: originOf(i),
      crc: p.portCrc,
      buildKey: computeBuildKey(p),
      keyParts: p,
      version: '1.0',
      buildId: '00000000-0000-7000-8000-000000000000',
      pkgfile: `port${i}-1.0.pkg`,
      pkgname: `port${i}-1.0`,
    });
  }
  await db.recordSuccesses(states);
}

/** One build's writes, in order, as the recorder makes them; returns the number of writes. */
async function recordBuild(db: BuildDB, i: number, runId: string, timings?: { start: number[]; complete: number[] }): Promise<number> {
  const origin = originOf(i);
  const p = partsFor(i);
  const buildKey = computeBuildKey(p);
  let t = performance.now();
  const buildId = await db.startBuild({
    runId,
    origin,
    pkgname: `port${i}-2.0`,
    version: '2.0',
    crc: p.portCrc,
    buildKey,
    keyParts: p,
    logPath: `/logs/${i}.log`,
    reason: 'port changed',
    trigger: 'bench',
  });
  timings?.start.push(performance.now() - t);
  const started = Date.now();
  for (const [k, phase] of PHASES.entries())
    await db.recordPhases(buildId, [{ phase, startedAt: new Date(started + k), durationMs: 1, exitCode: 0 }]);
  t = performance.now();
  await db.completeBuild(
    buildId,
    'success',
    { lastPhase: 'package', package: { identity: hex(i, 64), checksum: hex(i + 1, 64), shlibs: [] } },
    {
      success: {
        origin,
        crc: p.portCrc,
        buildKey,
        keyParts: p,
        version: '2.0',
        buildId,
        pkgfile: `port${i}-2.0.pkg`,
        pkgname: `port${i}-2.0`,
        package: { identity: hex(i, 64), checksum: hex(i + 1, 64), shlibs: [] },
      },
    },
  );
  timings?.complete.push(performance.now() - t);
  return 2 + PHASES.length;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const dir = mkdtempSync(join(tmpdir(), 'portsync-bench-builddb-writes-'));
const rows: Figure[] = [];
try {
  const db = await BuildDB.open(join(dir, 'builddb.duckdb'));
  try {
    let t = performance.now();
    await seed(db);
    rows.push({
      figure: `seed: ${HISTORY.toLocaleString()} builds, ${PORTS.toLocaleString()} ports' state`,
      value: Math.round(performance.now() - t),
      unit: 'ms',
    });
    const runId = await db.startRun({ trigger: 'bench' });

    // Lone writes: one build at a time, nothing queued behind.
    const timings = { start: [] as number[], complete: [] as number[] };
    for (let i = 0; i < 50; i++) await recordBuild(db, PORTS + i, runId, timings);
    rows.push({ figure: 'lone startBuild (median of 50)', value: median(timings.start), unit: 'ms', max: LONE_TARGET_MS });
    rows.push({
      figure: 'lone completeBuild with success (median of 50)',
      value: median(timings.complete),
      unit: 'ms',
      max: LONE_TARGET_MS,
    });

    // Concurrent builds: CONCURRENCY chains of writes at once.
    const commits0 = db.commits;
    let next = 0;
    let writes = 0;
    t = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < BUILDS) {
          const n = await recordBuild(db, next++, runId);
          writes += n;
        }
      }),
    );
    const s = (performance.now() - t) / 1000;
    const commits = db.commits - commits0;
    rows.push({
      figure: `${BUILDS} builds, ${CONCURRENCY} at a time: builds recorded per second`,
      value: Math.round((BUILDS / s) * 10) / 10,
      unit: 'builds/s',
      min: BUILDS_PER_S_TARGET,
    });
    rows.push({ figure: `  writes per second (${writes} writes)`, value: Math.round(writes / s), unit: 'writes/s' });
    rows.push({ figure: '  commits', value: commits });
  } finally {
    await db.close();
  }
  report('builddb-writes', 'build database: the coordinator write load', rows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
