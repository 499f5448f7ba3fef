import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ANALYTICS } from '../src/builddb/analytics.js';
import { BuildDB } from '../src/builddb/db.js';
import {
  CRCError,
  DatabaseUnavailableError,
  DatabaseVersionError,
  PackageIndexError,
  QueryRejectedError,
  RecordNotFoundError,
  RecordValidationError,
} from '../src/builddb/errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../src/builddb/schema.js';
import type { BuildHistoryRecord } from '../src/builddb/types.js';
import { computeBuildKey } from '../src/fingerprint/buildKey.js';
import { decide } from '../src/reconcile/decide.js';
import { knownFromRows } from '../src/reconcile/known.js';
import type { BuildKeyParts } from '../src/fingerprint/types.js';

const ROOT = resolve(import.meta.dirname, '..');
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'portsync-builddb-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const freshPath = () => join(dir, `db${++n}`, 'sub', 'builddb.duckdb');

function parts(over: Partial<BuildKeyParts> = {}): BuildKeyParts {
  return {
    portCrc: '0a1b2c3d',
    makefiles: { 'Mk/bsd.port.mk': '11111111' },
    vars: {},
    options: ['DOCS'],
    environment: { backend: 'chroot' },
    dependencies: {},
    ...over,
  };
}

async function buildOnce(db: BuildDB, origin: string, p: BuildKeyParts, status: 'success' | 'failed' = 'success', runId?: string) {
  const key = computeBuildKey(p);
  const buildId = await db.startBuild({
    runId,
    origin,
    pkgname: `${origin.split('/')[1]}-1.0`,
    version: '1.0',
    crc: p.portCrc,
    buildKey: key,
    keyParts: p,
    logPath: `/logs/${origin.replace('/', '___')}.log`,
    reason: 'new: never built',
  });
  const t0 = new Date(Date.now() - 5000);
  await db.recordPhases(buildId, [
    { phase: 'fetch', startedAt: t0, durationMs: 1000, exitCode: 0 },
    { phase: 'build', startedAt: new Date(t0.getTime() + 1000), durationMs: 3000, exitCode: status === 'success' ? 0 : 2 },
  ]);
  await db.finishBuild(buildId, status, { lastPhase: 'build', error: status === 'failed' ? 'build: exit 2' : null });
  if (status === 'success') {
    await db.recordSuccess(origin, {
      crc: p.portCrc,
      buildKey: key,
      keyParts: p,
      version: '1.0',
      buildId,
      pkgfile: `${origin.split('/')[1]}-1.0.pkg`,
      pkgname: `${origin.split('/')[1]}-1.0`,
    });
  } else {
    await db.recordFailure(origin, key, buildId);
  }
  return { buildId, key };
}

describe('BuildDB basics', () => {
  test('open creates the file and its directory, records the schema version, and writes then removes the owner sidecar', async () => {
    const path = freshPath();
    const db = await BuildDB.open(path, { processInfo: 'portsync test' });
    assert.ok(existsSync(path));
    const owner = JSON.parse(readFileSync(`${path}.owner`, 'utf8'));
    assert.equal(owner.pid, process.pid);
    assert.equal(owner.command, 'portsync test');
    const r = await db.query('SELECT max(version) AS v FROM schema_version');
    assert.deepEqual(r.rows, [[SCHEMA_VERSION]]);
    const tables = await db.query(`SELECT table_name FROM duckdb_tables() ORDER BY table_name`);
    assert.deepEqual(tables.rows.flat(), [
      'build_phases',
      'builds',
      'file_sets',
      'port_state',
      'pruned_packages',
      'runs',
      'schema_version',
    ]);
    await db.close();
    assert.ok(!existsSync(`${path}.owner`));
    const again = await BuildDB.open(path);
    assert.deepEqual(
      (await again.query('SELECT count(*) FROM schema_version')).rows,
      [[MIGRATIONS.length]],
      'each migration is applied once',
    );
    await again.close();
  });

  test('a run with a successful and a failed build is recorded with phases, durations, state and counts', async () => {
    const db = await BuildDB.open(freshPath());
    try {
      const runId = await db.startRun({ trigger: 'manual', gitCommit: 'abc123' });
      const ok = await buildOnce(db, 'misc/help2man', parts(), 'success', runId);
      const bad = await buildOnce(db, 'devel/broken', parts({ portCrc: 'deadbeef' }), 'failed', runId);
      await db.finishRun(runId, 'failed', { total: 3, success: 1, failed: 1, skipped: 1 });

      const b = await db.build(ok.buildId);
      assert.equal(b?.status, 'success');
      assert.equal(b?.runId, runId);
      assert.equal(b?.lastPhase, 'build');
      assert.ok(b!.startedAt instanceof Date && b!.finishedAt instanceof Date);
      assert.ok(b!.durationMs !== null && b!.durationMs >= 0);
      assert.deepEqual(b?.keyParts, parts());
      assert.deepEqual(
        (await db.phases(ok.buildId)).map((p) => [p.phase, p.durationMs, p.exitCode]),
        [
          ['fetch', 1000, 0],
          ['build', 3000, 0],
        ],
      );

      const st = await db.portState('misc/help2man');
      assert.equal(st?.crc, '0a1b2c3d');
      assert.equal(st?.buildKey, ok.key);
      assert.equal(st?.buildId, ok.buildId);
      assert.equal(st?.pkgfile, 'help2man-1.0.pkg');
      assert.equal(st?.failedKey, null);

      const failed = await db.portState('devel/broken');
      assert.equal(failed?.failedKey, bad.key);
      assert.equal(failed?.failedBuildId, bad.buildId);
      assert.equal(failed?.buildId, null, 'a failure does not enter the package index');
      assert.equal((await db.build(bad.buildId))?.error, 'build: exit 2');

      assert.equal((await db.latestSuccess('misc/help2man'))?.buildId, ok.buildId);
      assert.equal(await db.latestSuccess('devel/broken'), undefined);
      assert.deepEqual(
        (await db.allPortState()).map((s) => s.origin),
        ['devel/broken', 'misc/help2man'],
      );

      const [run] = await db.runs(5);
      assert.equal(run?.runId, runId);
      assert.equal(run?.status, 'failed');
      assert.equal(run?.gitCommit, 'abc123');
      assert.deepEqual([run?.total, run?.success, run?.failed, run?.skipped, run?.ignored, run?.blocked], [3, 1, 1, 1, 0, 0]);
      assert.ok(run!.durationMs! >= 0);
    } finally {
      await db.close();
    }
  });

  test('history is newest first and a success clears the failed-at-these-inputs marker', async () => {
    const db = await BuildDB.open(freshPath());
    try {
      const p = parts();
      const first = await buildOnce(db, 'devel/flaky', p, 'failed');
      await sleep(5);
      const second = await buildOnce(db, 'devel/flaky', p, 'success');
      const h = await db.history('devel/flaky', 10);
      assert.deepEqual(
        h.map((b) => b.buildId),
        [second.buildId, first.buildId],
      );
      assert.equal((await db.history('devel/flaky', 1)).length, 1);
      const st = await db.portState('devel/flaky');
      assert.equal(st?.failedKey, null);
      assert.equal(st?.buildId, second.buildId);
    } finally {
      await db.close();
    }
  });

  test('the recorded state drives the one rebuild decision: new, up to date, package missing, the changed parts as reasons', async () => {
    const db = await BuildDB.open(freshPath());
    try {
      const p = parts();
      const key = computeBuildKey(p);
      const decideFor = async (origin: string, cur: BuildKeyParts, pkgExists: boolean) =>
        decide({
          parts: cur,
          known: knownFromRows(await db.allPortState()).get(origin),
          cascade: 'output',
          pkgExists,
          pkgfile: 'x-1.0.pkg',
          forced: false,
        });
      assert.deepEqual(await decideFor('misc/x', p, false), { action: 'build', reasons: [{ kind: 'new', detail: 'never built' }], key });

      await buildOnce(db, 'misc/x', p);
      assert.deepEqual(await decideFor('misc/x', p, true), { action: 'skip', reasons: [], key });
      assert.equal((await db.portState('misc/x'))?.buildKey, key);

      const missing = await decideFor('misc/x', p, false);
      assert.deepEqual(missing.reasons, [{ kind: 'package-missing', detail: 'package x-1.0.pkg is not in the repository' }]);

      const cur = parts({
        portCrc: 'ffffffff',
        makefiles: { 'Mk/bsd.port.mk': '22222222' },
        options: ['DOCS', 'NLS'],
        dependencies: { 'devel/libfoo': 'c'.repeat(64) },
      });
      const changed = await decideFor('misc/x', cur, true);
      assert.equal(changed.action, 'build');
      assert.deepEqual(
        changed.reasons.map((r) => r.kind),
        ['port-changed', 'framework-changed', 'options-changed', 'dependency-changed'],
      );
      assert.equal(changed.reasons[0]!.detail, 'port CRC 0a1b2c3d -> ffffffff');

      await buildOnce(db, 'misc/never', p, 'failed');
      assert.deepEqual(await decideFor('misc/never', p, false), {
        action: 'blocked',
        reasons: [{ kind: 'failed', detail: 'failed at these inputs; change them or --force' }],
        key,
      });
      assert.deepEqual((await decideFor('misc/never', cur, false)).reasons, [{ kind: 'new', detail: 'never built successfully' }]);
    } finally {
      await db.close();
    }
  });

  test('file sets of key parts are stored once and come back as one shared object; package identity is kept', async () => {
    const path = freshPath();
    const db = await BuildDB.open(path);
    const framework = { 'Mk/Scripts/package.sh': 'abcdef01' };
    const makefiles = { 'Mk/bsd.port.mk': '11111111', 'Mk/sys.mk': '22222222' };
    try {
      for (const o of ['misc/a', 'misc/b', 'misc/c']) {
        const p = parts({ makefiles, framework, portCrc: o === 'misc/a' ? '0000000a' : '0000000b' });
        const { buildId, key } = await buildOnce(db, o, p);
        await db.recordSuccess(o, {
          crc: p.portCrc,
          buildKey: key,
          keyParts: p,
          version: '1.0',
          buildId,
          pkgfile: 'x.pkg',
          pkgname: 'x-1.0',
          package: { identity: 'i'.repeat(64), checksum: 'c'.repeat(64), shlibs: ['libx.so.1'] },
        });
      }
      const q = await db.query('SELECT count(*) AS sets, max(length(files)) AS longest FROM file_sets');
      assert.equal(Number(q.rows[0]![0]), 2, 'one row per distinct set, whatever the number of ports');
      const stored = await db.query(`SELECT key_parts FROM port_state WHERE origin = 'misc/a'`);
      assert.ok(!String(stored.rows[0]![0]).includes('Mk/bsd.port.mk'), 'the port row names the set, not its files');
    } finally {
      await db.close();
    }
    const again = await BuildDB.open(path);
    try {
      const rows = await again.allPortState();
      assert.equal(rows.length, 3);
      assert.deepEqual(rows[0]!.keyParts!.makefiles, makefiles);
      assert.deepEqual(rows[0]!.keyParts!.framework, framework);
      assert.equal(rows[0]!.keyParts!.makefiles, rows[1]!.keyParts!.makefiles, 'ports with the same set share one object');
      assert.deepEqual(rows[0]!.package, { identity: 'i'.repeat(64), checksum: 'c'.repeat(64), shlibs: ['libx.so.1'] });
    } finally {
      await again.close();
    }
  });

  test('bad calls raise typed errors naming the record at fault', async () => {
    const db = await BuildDB.open(freshPath());
    try {
      const unknown = '00000000-0000-4000-8000-000000000000';
      await assert.rejects(
        db.finishBuild(unknown, 'success'),
        (e) => e instanceof RecordNotFoundError && e.buildId === unknown && e.operation === 'finishBuild',
      );
      await assert.rejects(db.finishRun(unknown, 'success'), (e) => e instanceof RecordNotFoundError && e.runId === unknown);
      const { buildId } = await buildOnce(db, 'misc/y', parts());
      await assert.rejects(
        db.finishBuild(buildId, 'running' as never),
        (e) => e instanceof RecordValidationError && e.field === 'status' && e.buildId === buildId,
      );
      await assert.rejects(
        db.recordPhase(buildId, 'build', new Date(), -1, 0),
        (e) => e instanceof RecordValidationError && e.field === 'durationMs',
      );
      await assert.rejects(
        db.updateCRC('misc/y', 'xyz', 'a'.repeat(64), parts()),
        (e) => e instanceof CRCError && e.origin === 'misc/y' && /8 hex digits/.test(e.message),
      );
      await assert.rejects(
        db.updatePackageIndex('misc/y', { version: '1.0', buildId, pkgfile: '', pkgname: 'y-1.0' }),
        (e) => e instanceof PackageIndexError && e.origin === 'misc/y' && /pkgfile is empty/.test(e.message),
      );
      await assert.rejects(db.startBuild({ ...(await db.build(buildId))!, origin: 'nocategory' } as never), RecordValidationError);
    } finally {
      await db.close();
    }
    await assert.rejects(db.portState('misc/y'), (e) => e instanceof DatabaseUnavailableError && e.reason === 'closed');
  });

  test('updateCRC and updatePackageIndex each fill their half of port_state', async () => {
    const db = await BuildDB.open(freshPath());
    try {
      const p = parts();
      await db.updateCRC('misc/z', '0a1b2c3d', computeBuildKey(p), p);
      await db.updatePackageIndex('misc/z', {
        version: '2.0',
        buildId: '11111111-1111-4111-8111-111111111111',
        pkgfile: 'z-2.0.pkg',
        pkgname: 'z-2.0',
      });
      const st = await db.portState('misc/z');
      assert.deepEqual(
        [st?.crc, st?.version, st?.pkgfile, st?.buildId],
        ['0a1b2c3d', '2.0', 'z-2.0.pkg', '11111111-1111-4111-8111-111111111111'],
      );
    } finally {
      await db.close();
    }
  });

  test('a database from a newer portsync is refused with its version and ours', async () => {
    const path = freshPath();
    const db = await BuildDB.open(path);
    // Only query() is exposed, which is read-only; write the future version through DuckDB directly.
    await db.close();
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const inst = await DuckDBInstance.create(path);
    const c = await inst.connect();
    await c.run(`INSERT INTO schema_version VALUES (${SCHEMA_VERSION + 5}, now(), NULL)`);
    c.closeSync();
    inst.closeSync();
    await assert.rejects(
      BuildDB.open(path),
      (e) =>
        e instanceof DatabaseVersionError &&
        e.file === path &&
        e.fileVersion === SCHEMA_VERSION + 5 &&
        e.knownVersion === SCHEMA_VERSION &&
        e.message.includes(path) &&
        /newer portsync/.test(e.message),
    );
    await assert.rejects(BuildDB.open(path, { readOnly: true }), DatabaseVersionError);
    assert.ok(!existsSync(`${path}.owner`), 'a refused open leaves no owner sidecar');
  });

  test('read-only open reads but refuses writes; a missing file is DatabaseUnavailableError', async () => {
    const path = freshPath();
    const db = await BuildDB.open(path);
    await buildOnce(db, 'misc/ro', parts());
    await db.close();
    const ro = await BuildDB.open(path, { readOnly: true });
    try {
      assert.equal((await ro.portState('misc/ro'))?.crc, '0a1b2c3d');
      assert.ok(!existsSync(`${path}.owner`), 'a reader does not claim ownership');
      await assert.rejects(ro.startRun({ trigger: 'manual' }), (e) => e instanceof DatabaseUnavailableError && e.reason === 'read-only');
    } finally {
      await ro.close();
    }
    const missing = join(dir, 'missing', 'none.duckdb');
    await assert.rejects(
      BuildDB.open(missing, { readOnly: true }),
      (e) => e instanceof DatabaseUnavailableError && e.reason === 'missing' && e.file === missing,
    );
  });

  test('a second read-write open in the same process is refused', async () => {
    const path = freshPath();
    const db = await BuildDB.open(path);
    try {
      await assert.rejects(BuildDB.open(path), /already open read-write in this process/);
    } finally {
      await db.close();
    }
  });

  test('builds and runs left running by a closed handle or a killed process become interrupted on open', async () => {
    const path = freshPath();
    const db = await BuildDB.open(path);
    const runId = await db.startRun({ trigger: 'manual' });
    const p = parts();
    const buildId = await db.startBuild({
      runId,
      origin: 'misc/a',
      pkgname: 'a-1',
      version: '1',
      crc: p.portCrc,
      buildKey: computeBuildKey(p),
      keyParts: p,
      logPath: '/l',
      reason: 'new',
    });
    await db.close();

    // A real process that opens the database, starts a build and is killed mid-build.
    const script = join(dir, 'crash-holder.mjs');
    writeFileSync(
      script,
      `import { BuildDB } from ${JSON.stringify(join(ROOT, 'src/builddb/db.ts'))};
const db = await BuildDB.open(process.argv[2], { processInfo: 'crash holder' });
const runId = await db.startRun({ trigger: 'watch' });
await db.startBuild({ runId, origin: 'misc/b', pkgname: 'b-1', version: '1', crc: '00000000', buildKey: '${'0'.repeat(64)}', keyParts: ${JSON.stringify(p)}, logPath: '/l', reason: 'new' });
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script, path], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && res());
      child.on('exit', (code) => rej(new Error(`holder exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    assert.ok(existsSync(`${path}.owner`), 'the killed process left its (now stale) sidecar');

    const again = await BuildDB.open(path);
    try {
      assert.deepEqual(again.recovered, { builds: 2, runs: 2 });
      const b = await again.build(buildId);
      assert.equal(b?.status, 'interrupted');
      assert.ok(b?.finishedAt instanceof Date);
      assert.match(b?.error ?? '', /interrupted/);
      const killed = (await again.history('misc/b', 1))[0];
      assert.equal(killed?.status, 'interrupted');
      assert.equal(killed?.pid, child.pid);
      assert.deepEqual(
        (await again.runs()).map((r) => r.status),
        ['interrupted', 'interrupted'],
      );
      assert.equal(JSON.parse(readFileSync(`${path}.owner`, 'utf8')).pid, process.pid, 'the stale sidecar was replaced');
    } finally {
      await again.close();
    }
  });
});

describe('BuildDB.query', () => {
  let db: BuildDB;
  before(async () => {
    db = await BuildDB.open(freshPath());
    await buildOnce(db, 'misc/q1', parts());
    await buildOnce(db, 'misc/q2', parts(), 'failed');
  });
  after(() => db.close());

  test('read-only statements run and return JSON-safe rows', async () => {
    const r = await db.query(`SELECT origin, status, duration_ms, started_at FROM builds ORDER BY origin`);
    assert.deepEqual(r.columns, ['origin', 'status', 'duration_ms', 'started_at']);
    assert.equal(r.rows.length, 2);
    assert.deepEqual(
      r.rows.map((x) => x.slice(0, 2)),
      [
        ['misc/q1', 'success'],
        ['misc/q2', 'failed'],
      ],
    );
    assert.equal(typeof r.rows[0]![2], 'number');
    assert.match(String(r.rows[0]![3]), /^\d{4}-\d\d-\d\dT.*Z$/);
    assert.equal(r.truncated, false);
    for (const sql of [
      'WITH x AS (SELECT 1 AS a) SELECT a FROM x',
      'SHOW TABLES',
      'DESCRIBE builds',
      'EXPLAIN SELECT 1',
      'SUMMARIZE runs',
      'FROM port_state',
      'EXPLAIN ANALYZE SELECT 1',
    ]) {
      await db.query(sql);
    }
  });

  test('maxRows truncates and says so', async () => {
    const r = await db.query('SELECT * FROM range(5000)', { maxRows: 3 });
    assert.deepEqual(r.rows, [[0], [1], [2]]);
    assert.equal(r.truncated, true);
    assert.equal((await db.query('SELECT * FROM range(3)', { maxRows: 3 })).truncated, false);
  });

  test('anything that writes, attaches, sets, or reads files is rejected, and nothing changes', async () => {
    const rejected = [
      'DELETE FROM builds',
      "INSERT INTO runs (run_id, trigger, started_at, status) VALUES (uuid(), 'x', now(), 'running')",
      'UPDATE port_state SET crc = NULL',
      'DROP TABLE builds',
      'SELECT 1; DELETE FROM builds',
      `COPY builds TO '${join(dir, 'out.csv')}'`,
      `ATTACH '${join(dir, 'other.duckdb')}'`,
      'SET threads = 1',
      'CHECKPOINT',
      'EXPLAIN ANALYZE DELETE FROM builds',
      'CREATE TABLE t AS SELECT 1',
      `SELECT * FROM read_csv('/etc/passwd')`,
      'SELEKT 1',
    ];
    for (const sql of rejected) {
      await assert.rejects(db.query(sql), (e) => e instanceof QueryRejectedError && e.sql === sql, sql);
    }
    assert.deepEqual((await db.query('SELECT count(*) FROM builds')).rows, [[2]]);
    assert.ok(!existsSync(join(dir, 'out.csv')));
  });

  test('a query running past its time limit is interrupted', async () => {
    const t0 = Date.now();
    await assert.rejects(
      db.query('SELECT count(*) FROM range(100000000000) a', { timeoutMs: 200 }),
      (e) => e instanceof QueryRejectedError && /interrupted after 200 ms/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 5000);
    assert.deepEqual((await db.query('SELECT 42')).rows, [[42]], 'the connection still works afterwards');
  });
});

describe('appendBuildHistory and analytics', () => {
  test('bulk-appended history is readable through the API and the named analytics', async () => {
    const db = await BuildDB.open(freshPath());
    try {
      const t = Date.UTC(2025, 0, 1, 12);
      const records: BuildHistoryRecord[] = [];
      for (let i = 0; i < 30; i++) {
        const origin = `cat/p${i % 3}`;
        const start = new Date(t + i * 3_600_000);
        const dur = ((i % 3) + 1) * 60_000;
        records.push({
          origin,
          pkgname: `p${i % 3}-1`,
          version: '1',
          status: i % 3 === 2 && i % 2 === 0 ? 'failed' : 'success',
          crc: '00000000',
          buildKey: '0'.repeat(64),
          startedAt: start,
          finishedAt: new Date(start.getTime() + dur),
          phases: [
            { phase: 'fetch', startedAt: start, durationMs: dur / 4, exitCode: 0 },
            { phase: 'build', startedAt: new Date(start.getTime() + dur / 4), durationMs: (dur * 3) / 4, exitCode: 0 },
          ],
        });
      }
      const ids = await db.appendBuildHistory(records);
      assert.equal(ids.length, 30);
      const h = await db.history('cat/p1', 100);
      assert.equal(h.length, 10);
      assert.equal(h[0]?.durationMs, 120_000);
      assert.equal(h[0]?.lastPhase, 'build');
      assert.equal((await db.phases(ids[0]!)).length, 2);

      const slowest = await db.query(ANALYTICS.slowest({ limit: 2 }));
      assert.deepEqual(
        slowest.rows.map((r) => [r[0], r[2]]),
        [
          ['cat/p2', 180_000],
          ['cat/p1', 120_000],
        ],
      );
      const fr = await db.query(ANALYTICS.failureRate());
      assert.deepEqual(
        fr.rows.map((r) => r.slice(0, 4)),
        [['cat/p2', 10, 5, 50]],
      );
      const perDay = await db.query(ANALYTICS.buildsPerDay());
      assert.deepEqual(
        perDay.rows.map((r) => [r[0], r[1]]),
        [
          ['2025-01-01T00:00:00.000Z', 12],
          ['2025-01-02T00:00:00.000Z', 18],
        ],
      );
      const phase = await db.query(ANALYTICS.phaseTime());
      assert.deepEqual(
        phase.rows.map((r) => [r[0], r[1], r[5]]),
        [
          ['build', 30, 75],
          ['fetch', 30, 25],
        ],
      );
      const onePort = await db.query(ANALYTICS.phaseTime({ origin: "cat/p0' OR 1=1 --" }));
      assert.deepEqual(onePort.rows, [], 'the origin is quoted, not injected');
      await db.startRun({ trigger: 'timer' });
      assert.deepEqual(
        (await db.query(ANALYTICS.runs())).rows.map((r) => [r[1], r[5]]),
        [['timer', 'running']],
      );
      assert.throws(() => ANALYTICS.slowest({ limit: 0 }), RangeError);
    } finally {
      await db.close();
    }
  });
});

test('recordSuccesses records many ports at once, like recordSuccess one by one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-bulk-'));
  try {
    const db = await BuildDB.open(join(dir, 'b.duckdb'));
    const parts = { portCrc: '0000000a', makefiles: {}, vars: {}, options: [], environment: {}, dependencies: {} };
    const buildId = crypto.randomUUID();
    await db.recordFailure('cat/p1', 'k'.repeat(64), buildId);
    await db.recordSuccesses(
      Array.from({ length: 3000 }, (_, i) => ({
        origin: `cat/p${i}`,
        crc: '0000000a',
        buildKey: 'f'.repeat(64),
        keyParts: parts,
        version: '1.0',
        pkgname: `p${i}-1.0`,
        pkgfile: `p${i}-1.0.tgz`,
        buildId,
      })),
    );
    const all = await db.allPortState();
    assert.equal(all.length, 3000);
    const p1 = all.find((r) => r.origin === 'cat/p1')!;
    assert.equal(p1.failedKey, null, 'a success clears the failure marker');
    assert.equal(p1.pkgfile, 'p1-1.0.tgz');
    assert.deepEqual(p1.keyParts, parts);
    assert.equal(p1.buildId, buildId);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('build and run ids are time-ordered (UUIDv7): ORDER BY build_id is the order they were made, even within a millisecond', async () => {
  const db = await BuildDB.open(freshPath());
  try {
    const runIds: string[] = [];
    const buildIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const runId = await db.startRun({ trigger: 'manual' });
      runIds.push(runId);
      for (const origin of ['devel/a', 'devel/b', 'devel/c', 'devel/d'])
        buildIds.push((await buildOnce(db, origin, parts({ portCrc: `0000000${i}` }), 'success', runId)).buildId);
      await db.finishRun(runId, 'success');
    }
    for (const id of [...runIds, ...buildIds])
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, `${id} is a UUIDv7`);
    const conn = await db.userSqlConnection();
    const ordered = (await conn.runAndReadAll('SELECT build_id FROM builds ORDER BY build_id')).getRows().map((r) => String(r[0]));
    assert.deepEqual(ordered, buildIds);
    const runsOrdered = (await conn.runAndReadAll('SELECT run_id FROM runs ORDER BY run_id')).getRows().map((r) => String(r[0]));
    assert.deepEqual(runsOrdered, runIds);
    conn.closeSync?.();
  } finally {
    await db.close();
  }
});

describe('completeBuild', () => {
  const origin = 'misc/done';
  const p = parts();
  const key = computeBuildKey(p);
  const startedAt = new Date('2026-01-02T03:04:05.000Z');
  const finishedAt = new Date('2026-01-02T03:05:06.789Z');
  const pkg = { identity: 'done-1.0:abc', checksum: 'c'.repeat(64), shlibs: ['libdone.so.1'] };

  /** A build of `origin` started with a fixed id and time, so that two databases hold the same row. */
  async function started(db: BuildDB, buildId: string) {
    await db.startBuild({
      buildId,
      origin,
      pkgname: 'done-1.0',
      version: '1.0',
      crc: p.portCrc,
      buildKey: key,
      keyParts: p,
      logPath: '/logs/misc___done.log',
      reason: 'new: never built',
      startedAt,
    });
  }
  const success = (buildId: string) => ({
    origin,
    crc: p.portCrc,
    buildKey: key,
    keyParts: p,
    version: '1.0',
    buildId,
    pkgfile: 'done-1.0.pkg',
    pkgname: 'done-1.0',
    package: pkg,
  });
  /** The rows a build's end leaves: its builds row and its port's port_state row (without the write times). */
  async function rowsOf(db: BuildDB, buildId: string) {
    const build = await db.query(`SELECT * FROM builds WHERE build_id = '${buildId}'`);
    const state = await db.query(`SELECT * EXCLUDE (updated_at, failed_at), failed_at IS NOT NULL AS failed_at_set FROM port_state`);
    return { build: build.rows, state: state.rows };
  }

  test('writes what finishBuild and then recordSuccess or recordFailure write, for a success, a failure and a transient failure', async () => {
    const separate = await BuildDB.open(freshPath());
    const together = await BuildDB.open(freshPath());
    try {
      const info = (status: string) => ({
        finishedAt,
        lastPhase: 'package',
        error: status === 'success' ? null : 'build: exit 1',
        package: status === 'success' ? pkg : null,
        usage: { peakMemoryBytes: 1024, cpuMs: 42 },
      });
      const cases = [
        { status: 'success' as const, port: (id: string) => ({ success: success(id) }) },
        { status: 'failed' as const, port: () => ({ failure: { origin, buildKey: key } }) },
        { status: 'failed' as const, port: () => undefined },
        { status: 'interrupted' as const, port: () => undefined },
      ];
      for (const c of cases) {
        const buildId = crypto.randomUUID();
        for (const db of [separate, together]) await started(db, buildId);
        await separate.finishBuild(buildId, c.status, info(c.status));
        const port = c.port(buildId);
        if (port && 'success' in port) await separate.recordSuccess(origin, port.success);
        if (port && 'failure' in port) await separate.recordFailure(origin, key, buildId);
        await together.completeBuild(buildId, c.status, info(c.status), port);

        const want = await rowsOf(separate, buildId);
        assert.deepEqual(await rowsOf(together, buildId), want, `${c.status}${port ? '' : ' (no port state)'}`);
        assert.equal(want.build.length, 1);
        assert.equal(want.state.length, 1, 'the port has its state row');
      }
      const st = await together.portState(origin);
      assert.equal(st?.failedKey, key, 'the last non-transient failure is kept: the transient one and the interruption did not clear it');
      assert.deepEqual(st?.package, pkg, 'the package of the success is kept');
    } finally {
      await separate.close();
      await together.close();
    }
  });

  test('a failure inside rolls back all of it: the build stays running and the port state as it was', async () => {
    const db = await BuildDB.open(freshPath());
    try {
      const earlier = crypto.randomUUID();
      await started(db, earlier);
      await db.completeBuild(earlier, 'failed', { finishedAt, error: 'build: exit 1' }, { failure: { origin, buildKey: key } });
      const before = await rowsOf(db, earlier);

      const buildId = crypto.randomUUID();
      await started(db, buildId);
      const running = await rowsOf(db, buildId);
      // The build row's end is written first; the port_state upsert then fails in DuckDB (not a UUID).
      await assert.rejects(
        db.completeBuild(buildId, 'success', { finishedAt, package: pkg }, { success: { ...success(buildId), buildId: 'not-a-uuid' } }),
        (e) => e instanceof PackageIndexError && e.origin === origin && e.buildId === buildId && e.operation === 'completeBuild',
      );
      assert.deepEqual(await rowsOf(db, buildId), running, 'neither the build row nor the port state changed');
      assert.equal((await db.build(buildId))?.status, 'running');
      assert.deepEqual((await rowsOf(db, earlier)).state, before.state);
      assert.equal((await db.portState(origin))?.failedKey, key);

      // A build that is not there: nothing of the port is written either.
      const unknown = crypto.randomUUID();
      await assert.rejects(
        db.completeBuild(unknown, 'success', { finishedAt }, { success: success(unknown) }),
        (e) => e instanceof RecordNotFoundError && e.buildId === unknown && e.operation === 'completeBuild',
      );
      assert.deepEqual((await rowsOf(db, earlier)).state, before.state);

      // What the port write says must agree with the status.
      await assert.rejects(
        db.completeBuild(buildId, 'failed', { finishedAt }, { success: success(buildId) }),
        (e) => e instanceof RecordValidationError && e.field === 'status' && e.buildId === buildId,
      );
      await assert.rejects(
        db.completeBuild(buildId, 'success', { finishedAt }, { success: { ...success(buildId), crc: 'xyz' } }),
        (e) => e instanceof CRCError && e.origin === origin,
      );
      assert.equal((await db.build(buildId))?.status, 'running');

      // And it still completes once the input is right.
      await db.completeBuild(buildId, 'success', { finishedAt, package: pkg }, { success: success(buildId) });
      assert.equal((await db.build(buildId))?.status, 'success');
      assert.equal((await db.portState(origin))?.failedKey, null, 'a success clears the failure');
      assert.equal((await db.portState(origin))?.buildId, buildId);
    } finally {
      await db.close();
    }
  });
});

describe('group commit', () => {
  const PHASE_NAMES = ['fetch', 'extract', 'build', 'package'];

  test('writes queued together share commits; one failing gets its error and every other write is recorded once, in order', async () => {
    const db = await BuildDB.open(freshPath());
    try {
      const runId = await db.startRun({ trigger: 'manual' });
      const t0 = Date.parse('2026-03-01T00:00:00Z');
      const builds = Array.from({ length: 6 }, (_, i) => {
        const p = parts({ portCrc: `0000000${i}`, makefiles: { 'Mk/bsd.port.mk': '11111111', [`Mk/Uses/u${i}.mk`]: '22222222' } });
        return { origin: `cat/port${i}`, buildId: crypto.randomUUID(), p, key: computeBuildKey(p) };
      });
      const commitsBefore = db.commits;
      const writes: Promise<unknown>[] = [];
      const failures: Promise<unknown>[] = [];
      // Every build's start, phases and end are queued at once, interleaved across builds as
      // concurrent builds make them, without waiting for any: a build's end must find its start.
      for (const [k, phase] of ['start', ...PHASE_NAMES, 'end'].entries()) {
        for (const [i, b] of builds.entries()) {
          if (phase === 'start') {
            writes.push(
              db.startBuild({
                buildId: b.buildId,
                runId,
                origin: b.origin,
                pkgname: `port${i}-1.0`,
                version: '1.0',
                crc: b.p.portCrc,
                buildKey: b.key,
                keyParts: b.p,
                logPath: `/logs/port${i}.log`,
                reason: 'new: never built',
              }),
            );
          } else if (phase === 'end') {
            const success = { origin: b.origin, crc: b.p.portCrc, buildKey: b.key, keyParts: b.p, version: '1.0', buildId: b.buildId };
            const pkg = { pkgfile: `port${i}-1.0.pkg`, pkgname: `port${i}-1.0` };
            // Build 4's end fails in DuckDB itself (its package's build id is not a UUID): that aborts the transaction.
            const end = db.completeBuild(
              b.buildId,
              'success',
              { lastPhase: 'package' },
              { success: { ...success, ...pkg, buildId: i === 4 ? 'not-a-uuid' : b.buildId } },
            );
            (i === 4 ? failures : writes).push(end);
          } else {
            writes.push(db.recordPhase(b.buildId, phase, new Date(t0 + i * 100 + k), 10, 0));
          }
          // In the middle of the phases, a write to a build that does not exist.
          if (phase === 'extract' && i === 2) failures.push(db.finishBuild(crypto.randomUUID(), 'failed', { error: 'x' }));
        }
      }
      const settled = await Promise.allSettled([...writes, ...failures]);
      const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as Error);
      assert.equal(rejected.length, 2, `only the two bad writes fail: ${rejected.map((e) => e.message).join('; ')}`);
      await assert.rejects(failures[0]!, (e) => e instanceof RecordNotFoundError && e.operation === 'finishBuild');
      await assert.rejects(
        failures[1]!,
        (e) => e instanceof PackageIndexError && e.buildId === builds[4]!.buildId && e.operation === 'completeBuild',
      );
      const commits = db.commits - commitsBefore;
      assert.ok(commits < writes.length / 2, `${writes.length + 2} writes queued together took ${commits} commits`);

      // Every other write is there exactly once, each build's phases in the order they were written.
      const rows = await db.query(
        `SELECT b.origin, b.status, list(p.phase ORDER BY p.rowid) AS phases, count(p.phase) AS n
         FROM builds b LEFT JOIN build_phases p USING (build_id) GROUP BY ALL ORDER BY b.origin`,
      );
      assert.deepEqual(
        rows.rows,
        builds.map((b, i) => [b.origin, i === 4 ? 'running' : 'success', PHASE_NAMES, PHASE_NAMES.length]),
      );
      for (const [i, b] of builds.entries()) {
        const st = await db.portState(b.origin);
        if (i === 4) assert.equal(st, undefined, 'the failed end wrote nothing of its port');
        else assert.equal(st?.buildId, b.buildId, `${b.origin}'s state is its build's`);
        if (i !== 4) assert.deepEqual(st?.keyParts, b.p, `${b.origin}'s key parts read back whole (its file sets were stored)`);
      }
      // The failed end can be written again once it is right.
      const b = builds[4]!;
      await db.completeBuild(
        b.buildId,
        'success',
        {},
        {
          success: {
            origin: b.origin,
            crc: b.p.portCrc,
            buildKey: b.key,
            keyParts: b.p,
            version: '1.0',
            buildId: b.buildId,
            pkgfile: 'p.pkg',
            pkgname: 'p-1.0',
          },
        },
      );
      assert.equal((await db.build(b.buildId))?.status, 'success');
    } finally {
      await db.close();
    }
  });

  test('a file set written in a transaction that was rolled back is written again by the next build that names it', async () => {
    const path = freshPath();
    const db = await BuildDB.open(path);
    const p = parts({ makefiles: { 'Mk/bsd.port.mk': '11111111', 'Mk/Uses/only-here.mk': '33333333' } });
    const start = (buildId: string) =>
      db.startBuild({
        buildId,
        origin: 'cat/once',
        pkgname: 'once-1.0',
        version: '1.0',
        crc: p.portCrc,
        buildKey: computeBuildKey(p),
        keyParts: p,
        logPath: '/l',
        reason: 'r',
      });
    try {
      const id = crypto.randomUUID();
      // Queued together: the duplicate start fails in DuckDB, the group is rolled back and the first start runs again alone.
      const [first, dup] = await Promise.allSettled([start(id), start(id)]);
      assert.equal(first.status, 'fulfilled');
      assert.equal(dup.status, 'rejected');
    } finally {
      await db.close();
    }
    const again = await BuildDB.open(path);
    try {
      const rows = await again.query(`SELECT count(*) AS n FROM file_sets`);
      assert.deepEqual(rows.rows, [[1]], 'the port set is stored once');
      assert.equal((await again.history('cat/once'))[0]?.keyParts?.makefiles['Mk/Uses/only-here.mk'], '33333333');
    } finally {
      await again.close();
    }
  });
});
