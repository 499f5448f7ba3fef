/**
 * `portsync sql`, `history` and `report` without a daemon: they open the real DuckDB file
 * read-only. The commands run in-process with a captured Io.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, seed, tempProject } from './sql-helpers.js';

test('sql before any reconcile says there is no database yet (exit 2)', async (t) => {
  const p = await tempProject(t, 'portsync-sql-');
  const r = await run('sql', p.configFile, ['SELECT 1']);
  assert.equal(r.code, 2);
  assert.equal(r.err, `no build database yet at ${p.database}; run portsync reconcile first`);
  const rep = await run('report', p.configFile, []);
  assert.equal(rep.code, 0);
  assert.match(rep.out, /no build database yet/);
});

test('sql prints an aligned table, JSON or CSV, and exits 2 on SQL errors and writes', async (t) => {
  const p = await tempProject(t, 'portsync-sql-');
  await seed(p.database);
  const q = `SELECT origin, status, error FROM builds ORDER BY started_at`;
  const table = await run('sql', p.configFile, [q]);
  assert.equal(table.code, 0, table.err);
  const lines = table.out.split('\n');
  assert.match(lines[1]!, /│ origin\s+│ status\s+│ error\s+│/);
  assert.match(table.out, /│ math\/numbase │ failed  │ build failed, "quoted", with comma │/);
  assert.equal(new Set(lines.filter((l) => l.startsWith('│') || l.startsWith('┌')).map((l) => l.length)).size, 1, 'columns are aligned');
  assert.match(table.out, /\(3 rows\)$/);

  const json = await run('sql', p.configFile, [q, '--json']);
  assert.deepEqual(JSON.parse(json.out), {
    columns: ['origin', 'status', 'error'],
    rows: [
      { origin: 'misc/greet', status: 'success', error: null },
      { origin: 'math/numbase', status: 'failed', error: 'build failed, "quoted", with comma' },
      { origin: 'math/numbase', status: 'success', error: null },
    ],
    truncated: false,
  });

  const csv = await run('sql', p.configFile, [q, '--csv']);
  assert.equal(
    csv.out,
    'origin,status,error\nmisc/greet,success,\nmath/numbase,failed,"build failed, ""quoted"", with comma"\nmath/numbase,success,',
  );

  const bad = await run('sql', p.configFile, ['SELECT nope FROM builds']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /SQL error: .*nope/);
  const write = await run('sql', p.configFile, ['DELETE FROM builds']);
  assert.equal(write.code, 2);
  assert.match(write.err, /only read-only statements/);
  assert.equal(JSON.parse((await run('sql', p.configFile, ['SELECT count(*) AS n FROM builds', '--json'])).out).rows[0].n, 3);
});

test('history lists a port newest first; report prints every analytics section', async (t) => {
  const p = await tempProject(t, 'portsync-sql-');
  await seed(p.database);
  const h = await run('history', p.configFile, ['math/numbase', '--json']);
  assert.equal(h.code, 0, h.err);
  const builds = JSON.parse(h.out).builds as { status: string; startedAt: string }[];
  assert.deepEqual(
    builds.map((b) => b.status),
    ['success', 'failed'],
  );
  assert.equal(builds[0]!.startedAt, '2026-01-02T10:00:10.000Z');
  const text = await run('history', p.configFile, ['math/numbase']);
  assert.match(text.out, /2026-01-02 10:00:10 │ success/);
  assert.equal((await run('history', p.configFile, ['misc/nothing'])).out, 'misc/nothing: no builds recorded');

  const rep = await run('report', p.configFile, ['--json']);
  assert.equal(rep.code, 0, rep.err);
  const r = JSON.parse(rep.out) as Record<string, Record<string, unknown>[]>;
  assert.deepEqual(
    r.slowest!.map((x) => x.origin),
    ['math/numbase', 'misc/greet'],
  );
  assert.deepEqual(
    r.failureRate!.map((x) => [x.origin, x.failure_pct]),
    [['math/numbase', 50]],
  );
  assert.equal(r.buildsPerDay![0]!.builds, 3);
  assert.deepEqual(
    r.phaseTime!.map((x) => x.phase),
    ['build', 'fetch'],
  );
  assert.equal(r.runs![0]!.git_commit, 'abc123');
  const textReport = await run('report', p.configFile, []);
  for (const title of ['Slowest ports', 'Failure rate per port', 'Builds and build time per day', 'Time per phase', 'What each run did']) {
    assert.ok(textReport.out.includes(title), title);
  }
});
