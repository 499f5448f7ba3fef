/**
 * The write connection's kept prepared statements (src/builddb/preparedOnce.ts) on a real DuckDB:
 * a write of the kept shape is prepared once and right every time after, and what reads is never
 * kept — DuckDB 1.5 returns garbage from a SELECT … ORDER BY prepared on an empty table once the
 * table has rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { keptPrepared, preparedOnce } from '../src/builddb/preparedOnce.js';

async function connection() {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  await c.run(`CREATE TABLE t (k VARCHAR PRIMARY KEY, v VARCHAR)`);
  let prepares = 0;
  const prepare = c.prepare.bind(c);
  c.prepare = (sql: string) => (prepares++, prepare(sql));
  preparedOnce(c);
  return { c, prepares: () => prepares, close: () => (c.closeSync(), instance.closeSync()) };
}

test('writes of the kept shape are prepared once; a point update prepared before its row exists finds it later', async () => {
  const { c, prepares, close } = await connection();
  try {
    const update = `UPDATE t SET v = $2 WHERE k = $1`;
    assert.equal((await c.run(update, ['a', 'never'])).rowsChanged, 0);
    for (let i = 0; i < 5; i++) await c.run(`INSERT INTO t VALUES ($1, $2)`, [`k${i}`, `a value longer than twelve bytes ${i}`]);
    assert.equal((await c.run(update, ['k3', 'changed, and longer than it was'])).rowsChanged, 1);
    assert.equal(prepares(), 2, 'the update and the insert, each prepared once');
    const rows = (await c.runAndReadAll(`SELECT k, v FROM t ORDER BY k`)).getRowObjectsJS();
    assert.deepEqual(
      rows.map((r) => r.v),
      [0, 1, 2]
        .map((i) => `a value longer than twelve bytes ${i}`)
        .concat('changed, and longer than it was', 'a value longer than twelve bytes 4'),
    );
    // More texts than are kept: the oldest go, every run is still right.
    for (let i = 0; i < 100; i++) await c.run(`INSERT INTO t VALUES ($1, $2)${' '.repeat(i)}`, [`n${i}`, String(i)]);
    assert.equal((await c.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM t WHERE k LIKE 'n%'`)).getRowObjectsJS()[0]!.n, 100);
  } finally {
    close();
  }
});

test('a read with values is prepared every time: prepared on an empty table, it still reads the rows added since', async () => {
  const { c, prepares, close } = await connection();
  try {
    // (As the database's own reads run: with their values, an empty list when they have none.)
    const read = `SELECT k, v FROM t ORDER BY k`;
    assert.deepEqual((await c.runAndReadAll(read, [])).getRowObjectsJS(), []);
    await c.run(`INSERT INTO t VALUES ($1, $2), ($3, $4)`, ['misc/x', 'a value longer than twelve bytes', 'misc/y', 'z']);
    assert.deepEqual((await c.runAndReadAll(read, [])).getRowObjectsJS(), [
      { k: 'misc/x', v: 'a value longer than twelve bytes' },
      { k: 'misc/y', v: 'z' },
    ]);
    assert.equal(prepares(), 1, 'only the insert was kept');
  } finally {
    close();
  }
});

test('the kept shapes: INSERT … VALUES and UPDATE by the key in $1, nothing that reads', () => {
  for (const sql of [
    `INSERT INTO build_phases VALUES ($1, $2, $3), ($1, $4, $5)`,
    `INSERT OR IGNORE INTO file_sets VALUES ($1, $2)`,
    `UPDATE builds SET status = $2, duration_ms = greatest(0, date_diff('millisecond', started_at, $3)) WHERE build_id = $1`,
  ])
    assert.equal(keptPrepared(sql), true, sql);
  for (const sql of [
    `SELECT * FROM port_state WHERE origin = $1`,
    `INSERT INTO builds SELECT * FROM staged WHERE run = $1`,
    `UPDATE builds SET status = 'interrupted' WHERE status = 'running' AND pid IN ($1)`,
    `UPDATE port_state SET v = (SELECT max(v) FROM t) WHERE origin = $1`,
    `UPDATE port_state SET v = $2 WHERE origin = $1 AND failed_key IS NULL`,
  ])
    assert.equal(keptPrepared(sql), false, sql);
});
