/**
 * The limits on user SQL (`portsync sql`, POST /sql) hold: memory, time (DuckDB is interrupted,
 * its CPU use stops), rows and bytes; output is streamed; through the daemon a long query does
 * not hold up GET /status or the passes, and a client that goes away cancels its query.
 * Real DuckDB files, the real CLI in-process, a real daemon process over its socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { BuildDB } from '../src/builddb/db.js';
import { QueryRejectedError } from '../src/builddb/errors.js';
import { QueryMemoryError, QueryTimeoutError } from '../src/builddb/sqlErrors.js';
import { streamUserSql } from '../src/builddb/sqlStream.js';
import { daemonRequest } from '../src/client/request.js';
import { SQL_LIMITS } from '../src/server/queries.js';
import { RemoteQueryError, streamSqlFromDaemon } from '../src/client/sql.js';
import { jsonOutput } from '../src/cli/sqlOutput.js';
import { cli } from './helpers/wait.js';
import { cpuMsOf, run, seed, startDaemon, tempProject } from './sql-helpers.js';

const LONG = 'SELECT count(*) AS n FROM range(1000000000000)';
const MiB = 1024 * 1024;
/** ~1 GB of text in one value: over the 512 MiB memory limit within a few seconds (a string cannot spill to disk). */
const OOM = `SELECT string_agg(range::VARCHAR || repeat('x', 100), ',') AS s FROM range(10000000)`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 5,000 rows: three DuckDB chunks of 2,048, with NULLs, doubles, text needing CSV quotes and timestamps. */
const MULTI_CHUNK = `SELECT range AS i, 'row "' || range || '", x' AS s, CASE WHEN range % 7 = 0 THEN NULL ELSE range / 2 END AS half,
  TIMESTAMP '2026-01-01 00:00:00' + to_seconds(range) AS t FROM range(5000) ORDER BY i`;
const expectedRows = Array.from({ length: 5000 }, (_, i) => ({
  i,
  s: `row "${i}", x`,
  half: i % 7 === 0 ? null : i / 2,
  t: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
}));
const expectedCsv = ['i,s,half,t', ...expectedRows.map((r) => `${r.i},"row ""${r.i}"", x",${r.half ?? ''},${r.t}`)].join('\n');

/** CPU the whole process (DuckDB's threads included) uses over `ms`. */
async function ownCpuOver(ms: number): Promise<number> {
  const c0 = process.cpuUsage();
  await sleep(ms);
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
}

test('the memory limit is set before user SQL runs, cannot be changed by it, and a query over it fails naming it', async (t) => {
  const p = await tempProject(t, 'portsync-sqllim-');
  await seed(p.database);
  const setting = await run('sql', p.configFile, [`SELECT current_setting('memory_limit') AS m`, '--json']);
  assert.equal(setting.code, 0, setting.err);
  assert.equal(JSON.parse(setting.out).rows[0].m, '512.0 MiB');
  const set = await run('sql', p.configFile, [`SET memory_limit = '8GB'`]);
  assert.equal(set.code, 2);
  assert.match(set.err, /only read-only statements/);

  const t0 = Date.now();
  const big = await run('sql', p.configFile, [OOM]);
  assert.equal(big.code, 2, big.out);
  assert.match(
    big.err,
    /query stopped: it needs more memory than the 512 MiB limit for SQL \(Out of Memory Error: .*\); filter rows early \(WHERE\)/,
  );
  assert.doesNotMatch(big.err, /SET memory_limit/, "DuckDB's advice users cannot follow is left out");
  assert.equal(big.out, '', 'nothing was printed');
  t.diagnostic(`out of memory after ${Date.now() - t0} ms`);
  assert.equal(JSON.parse((await run('sql', p.configFile, ['SELECT 42 AS n', '--json'])).out).rows[0].n, 42, 'sql still works afterwards');

  // What does not fit in memory spills to disk, and that is capped too.
  const db = await BuildDB.open(p.database, { readOnly: true });
  t.after(() => db.close());
  const small = { ...SQL_LIMITS, memoryLimitBytes: 64 * MiB, tempLimitBytes: 32 * MiB };
  await assert.rejects(
    streamUserSql(db, 'SELECT count(DISTINCT range::VARCHAR) FROM range(30000000)', small, {
      begin: () => undefined,
      rows: () => undefined,
    }),
    (e) =>
      e instanceof QueryMemoryError &&
      /needs more than the 64 MiB of memory and 32 MiB of temporary disk space limit for SQL \(Out of Memory Error: failed to offload/.test(
        e.message,
      ),
  );
});

test('everything that was refused still is, on the user-SQL path', async (t) => {
  const p = await tempProject(t, 'portsync-sqllim-');
  await seed(p.database);
  const refused = [
    `COPY builds TO '${p.dir}/out.csv'`,
    `ATTACH '${p.dir}/other.duckdb'`,
    'INSTALL httpfs',
    'LOAD httpfs',
    `SELECT * FROM read_csv('/etc/passwd')`,
    `SELECT * FROM read_text('/etc/passwd')`,
    `SELECT * FROM glob('/etc/*')`,
    'SET threads = 1',
    `PRAGMA memory_limit = '8GB'`,
    'SELECT 1; SELECT 2',
    'WITH gone AS (DELETE FROM builds RETURNING *) SELECT * FROM gone',
    `EXPORT DATABASE '${p.dir}/export'`,
    'DELETE FROM builds',
  ];
  for (const sql of refused) {
    const r = await run('sql', p.configFile, [sql]);
    assert.equal(r.code, 2, `${sql} was accepted`);
    assert.ok(r.err, sql);
  }
  assert.equal(JSON.parse((await run('sql', p.configFile, ['SELECT count(*) AS n FROM builds', '--json'])).out).rows[0].n, 3);
});

test('a query past its time limit is interrupted: it stops near the limit and uses no more CPU', async (t) => {
  const p = await tempProject(t, 'portsync-sqllim-');
  await seed(p.database);
  const db = await BuildDB.open(p.database, { readOnly: true });
  t.after(() => db.close());
  const limits = { ...SQL_LIMITS, timeoutMs: 1000 };
  const t0 = Date.now();
  await assert.rejects(
    streamUserSql(db, LONG, limits, { begin: () => undefined, rows: () => undefined }),
    (e) =>
      e instanceof QueryTimeoutError &&
      e.limitMs === 1000 &&
      /ran longer than the 1000 ms limit for SQL and was interrupted; add a LIMIT or WHERE filters/.test(e.message),
  );
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 1000 && elapsed < 2500, `stopped after ${elapsed} ms`);
  const cpu = await ownCpuOver(1000);
  assert.ok(cpu < 250, `${cpu} ms of CPU in the second after the interrupt: DuckDB is still working`);

  // A reader that stops reading does not keep the query past its limit either.
  const t1 = Date.now();
  let got = 0;
  await assert.rejects(
    streamUserSql(db, 'SELECT * FROM range(100000)', limits, {
      begin: () => undefined,
      rows: (r) => ((got += r.length), new Promise<void>(() => {})),
    }),
    QueryTimeoutError,
  );
  assert.ok(Date.now() - t1 < 2500, `a stalled reader held the query for ${Date.now() - t1} ms`);
  assert.equal(got, 2048, 'the first chunk was handed over before the reader stalled');
  assert.deepEqual((await db.query('SELECT 42')).rows, [[42]], 'the database still answers');
});

test('results are capped in bytes as well as rows, and say so', async (t) => {
  const p = await tempProject(t, 'portsync-sqllim-');
  await seed(p.database);
  // 7,000 rows of ~10 KB: ~70 MB, under the row cap but over the 64 MiB byte cap.
  const wide = await run('sql', p.configFile, [`SELECT range AS i, repeat('x', 10000) AS s FROM range(7000)`, '--json']);
  assert.equal(wide.code, 0, wide.err);
  const doc = JSON.parse(wide.out) as { rows: { i: number; s: string }[]; truncated: boolean; truncatedBy: string };
  assert.equal(doc.truncated, true);
  assert.equal(doc.truncatedBy, 'bytes');
  const size = doc.rows.reduce((n, r) => n + JSON.stringify([r.i, r.s]).length + 1, 0);
  assert.ok(size <= 64 * MiB && size > 64 * MiB - 10_100, `${size} bytes returned`);
  assert.deepEqual(
    doc.rows.map((r) => r.i),
    [...Array(doc.rows.length).keys()],
    'the first rows, in order',
  );
  assert.equal(
    wide.err,
    `portsync sql: only the first ${doc.rows.length} rows were returned: the result reached the 64 MiB limit for SQL output; select fewer or narrower columns, or add a LIMIT`,
  );

  // Exactly the rows that fit: each counts as its JSON text and a separator.
  const db = await BuildDB.open(p.database, { readOnly: true });
  t.after(() => db.close());
  const rows: unknown[][] = [];
  const r = await streamUserSql(
    db,
    `SELECT range AS i, repeat('y', 1000) AS s FROM range(5000)`,
    { ...SQL_LIMITS, maxBytes: MiB },
    { begin: () => undefined, rows: (chunk) => void rows.push(...chunk) },
  );
  let fit = 0;
  for (let used = 0; used + JSON.stringify([fit, 'y'.repeat(1000)]).length + 1 <= MiB; fit++)
    used += JSON.stringify([fit, 'y'.repeat(1000)]).length + 1;
  assert.deepEqual({ rows: r.rows, truncated: r.truncated, got: rows.length }, { rows: fit, truncated: 'bytes', got: fit });
  assert.ok(r.bytes <= MiB);

  const long = await run('sql', p.configFile, ['SELECT range AS i FROM range(20000)', '--csv']);
  assert.equal(long.code, 0, long.err);
  assert.equal(long.out.split('\n').length, 1 + 10_000);
  assert.match(long.err, /only the first 10000 rows were returned \(the row limit for SQL\); add a LIMIT or aggregate/);
  const exact = await run('sql', p.configFile, ['SELECT range AS i FROM range(10000)', '--csv']);
  assert.equal(exact.err, '', 'exactly the row cap is not a truncation');
});

test('--csv and --json are written as the rows arrive, and are right across chunks', async (t) => {
  const p = await tempProject(t, 'portsync-sqllim-');
  await seed(p.database);
  const csv = await run('sql', p.configFile, [MULTI_CHUNK, '--csv']);
  assert.equal(csv.code, 0, csv.err);
  assert.equal(csv.out, expectedCsv);
  assert.ok(csv.pieces >= 4, `CSV came in ${csv.pieces} writes (header + a piece per chunk expected)`);
  const json = await run('sql', p.configFile, [MULTI_CHUNK, '--json']);
  assert.equal(json.code, 0, json.err);
  assert.deepEqual(JSON.parse(json.out), { columns: ['i', 's', 'half', 't'], rows: expectedRows, truncated: false });
  assert.ok(json.pieces >= 4, `JSON came in ${json.pieces} writes`);
  const empty = await run('sql', p.configFile, ['SELECT 1 AS a WHERE false', '--json']);
  assert.deepEqual(JSON.parse(empty.out), { columns: ['a'], rows: [], truncated: false });
  assert.equal((await run('sql', p.configFile, ['SELECT 1 AS a WHERE false', '--csv'])).out, 'a');
});

test('a query that fails after rows were handed over is an error, not a short result; --json stays well-formed', async (t) => {
  const p = await tempProject(t, 'portsync-sqllim-');
  await seed(p.database);
  const db = await BuildDB.open(p.database, { readOnly: true });
  t.after(() => db.close());
  // DuckDB computes a good many rows before the first is read (an error among those comes up
  // front, as a plain 400): the error must come later than that.
  const sql = `SELECT range AS i, repeat('x', 100) AS pad, CASE WHEN range < 150000 THEN 0 ELSE error('boom at ' || range) END AS e FROM range(200000)`;
  const lines: string[] = [];
  const out = jsonOutput({ out: (l) => lines.push(l), err: () => undefined });
  let handed = 0;
  const sink = { begin: out.sink.begin, rows: (rows: unknown[][], json: string[]) => ((handed += rows.length), out.sink.rows(rows, json)) };
  const err = await streamUserSql(db, sql, { ...SQL_LIMITS, maxRows: 1_000_000 }, sink).then(
    () => assert.fail('the query succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof QueryRejectedError);
  assert.match(err.message, /^SQL error: Invalid Input Error: boom at \d+/);
  assert.ok(handed > 0 && handed < 150_000, `${handed} rows were handed over before the failure`);
  out.fail(err);
  const doc = JSON.parse(lines.join('\n')) as { rows: unknown[]; truncated: boolean; error: string };
  assert.equal(doc.rows.length, handed);
  assert.equal(doc.truncated, true);
  assert.match(doc.error, /boom at/);
  assert.deepEqual((await db.query('SELECT 42')).rows, [[42]]);
});

/** POST /sql over the socket, keeping the raw answer: status, headers, and each piece as it came. */
function rawSql(socket: string, body: unknown, onRequest?: (destroy: () => void) => void) {
  return new Promise<{ status: number; headers: Record<string, unknown>; pieces: Buffer[]; text: string }>((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request({ socketPath: socket, method: 'POST', path: '/sql', headers: { 'content-type': 'application/json' } }, (res) => {
      const pieces: Buffer[] = [];
      res.on('data', (c: Buffer) => pieces.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, pieces, text: Buffer.concat(pieces).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    onRequest?.(() => req.destroy());
    req.end(payload);
  });
}

test('through the daemon', async (t) => {
  const p = await tempProject(t, 'portsync-sqllim-');
  await seed(p.database);
  const daemon = await startDaemon(t, p.configFile);
  const cwd = p.dir;

  await t.test('the answer is streamed (chunked) and the CLI prints the same as without a daemon', async () => {
    const r = await rawSql(daemon.socket, { sql: MULTI_CHUNK });
    assert.equal(r.status, 200);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.ok(r.pieces.length > 1, `the answer came in ${r.pieces.length} pieces`);
    const doc = JSON.parse(r.text) as { columns: string[]; rows: unknown[][]; truncated: boolean };
    assert.deepEqual(doc.columns, ['i', 's', 'half', 't']);
    assert.deepEqual(
      doc.rows,
      expectedRows.map((x) => [x.i, x.s, x.half, x.t]),
    );
    assert.equal(doc.truncated, false);
    const nd = await rawSql(daemon.socket, { sql: 'SELECT range AS i FROM range(3)', format: 'ndjson' });
    assert.equal(nd.text, '{"columns":["i"]}\n[0]\n[1]\n[2]\n{"end":{"rows":3,"truncated":false}}\n');

    const csv = await cli(cwd, ['sql', MULTI_CHUNK, '--csv']);
    assert.equal(csv.code, 0, csv.err);
    assert.equal(csv.out, `${expectedCsv}\n`);
    const json = await cli(cwd, ['sql', MULTI_CHUNK, '--json']);
    assert.deepEqual(JSON.parse(json.out), { columns: ['i', 's', 'half', 't'], rows: expectedRows, truncated: false });
    const capped = await rawSql(daemon.socket, { sql: 'SELECT range AS i FROM range(20000)', format: 'ndjson' });
    const lines = capped.text.trimEnd().split('\n');
    assert.equal(lines.length, 1 + 10_000 + 1);
    assert.deepEqual(JSON.parse(lines.at(-1)!), {
      end: {
        rows: 10_000,
        truncated: true,
        truncatedBy: 'rows',
        notice: 'only the first 10000 rows were returned (the row limit for SQL); add a LIMIT or aggregate',
      },
    });
    const long = await cli(cwd, ['sql', 'SELECT range AS i FROM range(20000)', '--csv']);
    assert.equal(long.out.split('\n').length, 1 + 10_000 + 1);
    assert.match(long.err, /portsync sql: only the first 10000 rows were returned/);
    const bad = await cli(cwd, ['sql', 'SELECT nope FROM builds']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /answered 400: SQL error: .*nope/);
    const oom = await cli(cwd, ['sql', OOM]);
    assert.equal(oom.code, 2);
    assert.match(oom.err, /needs more memory than the 512 MiB limit for SQL/);
  });

  await t.test('a long query does not hold up GET /status or a pass, and is interrupted at the 10 s limit', async () => {
    const t0 = Date.now();
    const long = rawSql(daemon.socket, { sql: LONG });
    // A reader that stalls after its first rows: the daemon waits for it, but not past the limit.
    let first = 0;
    let stalled = false;
    const slow = streamSqlFromDaemon(daemon.socket, `SELECT range AS i, repeat('x', 1000) AS s FROM range(9000)`, {
      begin: () => undefined,
      rows: async (rows) => {
        first += rows.length;
        if (!stalled) {
          stalled = true;
          await sleep(10_500);
        }
      },
    }).then(
      () => assert.fail('the stalled query succeeded'),
      (e: unknown) => e,
    );
    await sleep(500);
    const third = await daemonRequest(daemon.socket, 'POST', '/sql', { sql: 'SELECT 1' });
    assert.equal(third?.status, 503, 'two queries run at once at most');
    assert.match(
      (third?.body as { error: string }).error,
      /2 SQL queries are already running in this daemon \(its limit\); try again when one has finished/,
    );
    assert.equal((await daemonRequest(daemon.socket, 'POST', '/trigger', { reason: 'during a long query' }))?.status, 202);
    let slowest = 0;
    let polls = 0;
    while (Date.now() - t0 < 8000) {
      const s0 = Date.now();
      const st = await daemonRequest(daemon.socket, 'GET', '/status', undefined, { connectTimeoutMs: 5000 });
      assert.equal(st?.status, 200);
      slowest = Math.max(slowest, Date.now() - s0);
      polls++;
      await sleep(250);
    }
    assert.ok(slowest < 1000, `GET /status took up to ${slowest} ms during the query`);
    const a = await long;
    const elapsed = Date.now() - t0;
    assert.equal(a.status, 400);
    assert.match(JSON.parse(a.text).error, /ran longer than the 10000 ms limit for SQL and was interrupted; add a LIMIT or WHERE filters/);
    assert.ok(elapsed >= 10_000 && elapsed < 12_500, `the query ended after ${elapsed} ms`);
    const b = await slow;
    assert.ok(b instanceof RemoteQueryError, String(b));
    assert.equal(b.kind, 'timeout');
    assert.match(b.message, /ran longer than the 10000 ms limit for SQL/);
    assert.ok(first > 0 && first < 9000, `${first} rows arrived before the error`);
    const q0 = Date.now();
    const runs = await daemonRequest(daemon.socket, 'POST', '/sql', {
      sql: `SELECT epoch_ms(finished_at) AS f FROM runs WHERE trigger = 'manual' AND finished_at >= epoch_ms(${t0})`,
    });
    assert.ok(Date.now() - q0 < 1000, 'the next query runs at once');
    const finished = (runs?.body as { rows: number[][] }).rows.map((r) => r[0]!);
    assert.equal(finished.length, 1, 'the triggered pass was recorded');
    assert.ok(finished[0]! < t0 + 10_000, 'the pass wrote its run while the queries were running');
    t.diagnostic(`${polls} GET /status during the query, slowest ${slowest} ms`);
  });

  await t.test(
    'a client that goes away cancels its query: the daemon stops working on it',
    { skip: process.platform !== 'linux' && 'reads CPU time from /proc' },
    async () => {
      const idle = cpuMsOf(daemon.pid);
      await sleep(500);
      assert.ok(cpuMsOf(daemon.pid) - idle < 200, 'the daemon is idle before the query');
      let destroy!: () => void;
      const gone = rawSql(daemon.socket, { sql: LONG }, (d) => (destroy = d)).catch((e: Error) => e);
      await sleep(300);
      const busy0 = cpuMsOf(daemon.pid);
      await sleep(1000);
      const busy = cpuMsOf(daemon.pid) - busy0;
      assert.ok(busy > 300, `the query keeps DuckDB busy (${busy} ms of CPU in 1 s)`);
      const c0 = Date.now();
      destroy();
      assert.ok((await gone) instanceof Error);
      await sleep(300);
      const after0 = cpuMsOf(daemon.pid);
      await sleep(1000);
      const after = cpuMsOf(daemon.pid) - after0;
      assert.ok(after < 200, `${after} ms of CPU in the second after the client went away: the query still runs`);
      assert.match(daemon.log(), /POST \/sql: query cancelled after 1[0-9]{3} ms: the client went away/);
      const q0 = Date.now();
      const next = await daemonRequest(daemon.socket, 'POST', '/sql', { sql: 'SELECT 42 AS n' });
      assert.deepEqual((next?.body as { rows: unknown[][] }).rows, [[42]]);
      assert.ok(Date.now() - q0 < 1000 && Date.now() - c0 < 5000);
    },
  );

  await t.test('the daemon stops cleanly while a query runs', async () => {
    const pending = rawSql(daemon.socket, { sql: LONG }).catch((e: Error) => e);
    await sleep(500);
    const s0 = Date.now();
    assert.equal(await daemon.stop(), 0);
    assert.ok(Date.now() - s0 < 5000, `stopping took ${Date.now() - s0} ms`);
    const r = await pending;
    assert.ok(r instanceof Error || r.status !== 200, 'the query did not complete');
    assert.doesNotMatch(daemon.log(), /internal error|Error:.*\n\s+at /);
  });
});
