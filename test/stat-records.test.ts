/**
 * Stat records: what changed since they were taken, found on one thread or split with a worker
 * thread (a real tree's records), on real files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatRecords, changedSince, changedSinceInParallel, trustedMtime } from '../src/fingerprint/statRecords.js';

function recordedTree(n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-stat-'));
  const files = Array.from({ length: n }, (_, i) => join(dir, `f${i}`));
  const old = new Date(Date.now() - 60_000);
  for (const f of files) {
    writeFileSync(f, 'x');
    utimesSync(f, old, old);
  }
  const records = new StatRecords();
  for (const f of files) records.addNow(f);
  records.addNow(join(dir, 'missing'));
  return { dir, files, records };
}

test('changed, removed and created paths are found, on one thread and split with a worker, with the newest mtime', async () => {
  const { dir, files, records } = recordedTree(400);
  const stored = records.store();
  assert.deepEqual(changedSince(stored).paths, [], 'nothing changed yet');
  assert.ok(records.trustedAt(Date.now()), 'files a minute old are trusted');

  writeFileSync(files[3]!, 'xy'); // first half: size and mtime
  rmSync(files[350]!); // second half: gone
  writeFileSync(join(dir, 'missing'), ''); // recorded as missing, now there
  const now = Date.now();
  const one = changedSince(stored);
  const two = await changedSinceInParallel(stored, 100);
  const expected = [files[3]!, files[350]!, join(dir, 'missing')].sort();
  assert.deepEqual([...one.paths].sort(), expected);
  assert.deepEqual([...two.paths].sort(), expected, 'the worker thread finds the same');
  assert.equal(two.newestMtimeMs, one.newestMtimeMs);
  assert.ok(!trustedMtime(two.newestMtimeMs, now), 'a file written just now is too recent to trust');
  rmSync(dir, { recursive: true, force: true });
});

test('a followed link is checked by its target; an unfollowed one by the link itself', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-stat-'));
  writeFileSync(join(dir, 'a'), 'a');
  writeFileSync(join(dir, 'b'), 'bb');
  symlinkSync('a', join(dir, 'link'));
  const r = new StatRecords();
  r.addNow(join(dir, 'link'), true);
  r.addNow(join(dir, 'link'), false);
  const stored = r.store();
  rmSync(join(dir, 'link'));
  symlinkSync('b', join(dir, 'link'));
  const changed = await changedSinceInParallel(stored, 1);
  assert.equal(changed.paths.length, 2, 'the target (followed) and the link (a new inode) both changed');
  rmSync(dir, { recursive: true, force: true });
});
