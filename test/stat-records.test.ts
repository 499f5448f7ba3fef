/**
 * Stat records: what changed since they were taken, found on one thread or split with a worker
 * thread (a real tree's records), on real files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  StatRecords,
  StatThread,
  changedSince,
  changedSinceInParallel,
  decodeRecords,
  trustedMtime,
} from '../src/fingerprint/statRecords.js';

const ROOT = resolve(import.meta.dirname, '..');

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
  let begun = 0;
  assert.deepEqual((await changedSinceInParallel(stored, undefined, { minPerThread: 100, meanwhile: () => begun++ })).paths, []);
  assert.equal(begun, 0, 'nothing changed: nothing begun');
  assert.ok(records.trustedAt(Date.now()), 'files a minute old are trusted');

  writeFileSync(files[3]!, 'xy'); // first half: size and mtime
  writeFileSync(files[180]!, 'xyz'); // whichever thread claims its run
  rmSync(files[350]!); // second half: gone
  writeFileSync(join(dir, 'missing'), ''); // recorded as missing, now there
  const now = Date.now();
  const one = changedSince(stored);
  let calls = 0;
  const two = await changedSinceInParallel(stored, undefined, { minPerThread: 100, meanwhile: () => calls++ });
  assert.equal(calls, 1, 'what a change calls for began once, before the answer');
  // A thread started before the records were known (as a plan starts it before reading its kept plan).
  const early = new StatThread();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const three = await changedSinceInParallel(stored, early, { minPerThread: 100 });
  const expected = [files[3]!, files[180]!, files[350]!, join(dir, 'missing')].sort();
  assert.deepEqual([...one.paths].sort(), expected);
  assert.deepEqual([...two.paths].sort(), expected, 'the worker thread finds the same');
  assert.deepEqual([...three.paths].sort(), expected, 'so does a thread started ahead');
  // Records kept in a file: the thread reads its half there.
  const file = join(dir, 'records.bin');
  const encoded = stored.bytes;
  writeFileSync(file, Buffer.concat([Buffer.from('prefix'), encoded, Buffer.from('what follows')]));
  const fd = openSync(file, 'r');
  let reads = 0;
  const inFile = await changedSinceInParallel(
    {
      count: stored.count,
      section: { fd, offset: 6, length: encoded.length },
      // (The part after the records: the thread reads it too, once its records are checked, and hands it over.)
      tail: { offset: 6 + encoded.length, length: 'what follows'.length },
      read: () => (reads++, decodeRecords(readFileSync(file).subarray(6, 6 + encoded.length))),
    },
    undefined,
    { minPerThread: 100 },
  );
  assert.equal(inFile.tail?.toString(), 'what follows', 'the part after the records, read by the thread');
  // The asking thread read that part itself meanwhile: the other one does not read it again.
  const taken = new SharedArrayBuffer(4);
  Atomics.store(new Int32Array(taken), 0, 1);
  const tailTaken = await changedSinceInParallel(
    {
      count: stored.count,
      section: { fd, offset: 6, length: encoded.length },
      tail: { offset: 6 + encoded.length, length: 'what follows'.length },
      tailTaken: taken,
      read: () => decodeRecords(readFileSync(file).subarray(6, 6 + encoded.length)),
    },
    undefined,
    { minPerThread: 100 },
  );
  assert.equal(tailTaken.tail, undefined, 'taken already: not read by the thread');
  assert.deepEqual([...tailTaken.paths].sort(), expected);
  const direct = new StatThread();
  // (The records before 200 claimed already, as by another thread.)
  const claim = new SharedArrayBuffer(4);
  new Int32Array(claim)[0] = 200;
  const half = await direct.check({ claim, count: stored.count, section: { fd, offset: 6, length: encoded.length } });
  direct.close();
  closeSync(fd);
  assert.deepEqual([...inFile.paths].sort(), expected, 'records read from a file: the same, the thread reading its half there');
  assert.deepEqual(half?.paths.sort(), [files[350]!, join(dir, 'missing')].sort(), 'the thread reads the section itself');
  assert.equal(reads, 1, 'this thread read them once');
  assert.equal(two.newestMtimeMs, one.newestMtimeMs);
  assert.equal(three.newestMtimeMs, one.newestMtimeMs);
  assert.ok(!trustedMtime(two.newestMtimeMs, now), 'a file written just now is too recent to trust');
  rmSync(dir, { recursive: true, force: true });
});

test('a change found by either thread begins what it calls for before the answer', async () => {
  const { dir, files, records } = recordedTree(400);
  const stored = records.store();
  writeFileSync(files[390]!, 'changed');
  const order: string[] = [];
  let toldOf: readonly string[] = [];
  const got = await changedSinceInParallel(stored, undefined, {
    minPerThread: 100,
    meanwhile: async (foundSoFar) => {
      toldOf = [...foundSoFar()];
      order.push('meanwhile');
      await new Promise((resolve) => setTimeout(resolve, 50));
      order.push('meanwhile done');
    },
  });
  order.push('answer');
  assert.deepEqual(got.paths, [files[390]]);
  assert.deepEqual(toldOf, [files[390]], 'what a change calls for is told the change the thread found');
  assert.deepEqual(order, ['meanwhile', 'meanwhile done', 'answer'], 'and is awaited before the answer');
  rmSync(dir, { recursive: true, force: true });
});

test('what a change calls for goes first: the other thread checks on meanwhile', async () => {
  const { dir, files, records } = recordedTree(400);
  writeFileSync(files[5]!, 'changed'); // in the first runs
  writeFileSync(files[390]!, 'changed'); // in the last ones
  const stored = records.store();
  const thread = new StatThread();
  await new Promise((resolve) => setTimeout(resolve, 300)); // (loaded, as a plan's thread is by the time it is asked)
  const seen: string[][] = [];
  const got = await changedSinceInParallel(stored, thread, {
    minPerThread: 100,
    // (Long enough for the other thread to check every run left on a loaded machine.)
    meanwhile: async (foundSoFar) => {
      seen.push([...foundSoFar()]);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      seen.push([...foundSoFar()]);
    },
  });
  assert.deepEqual([...got.paths].sort(), [files[390]!, files[5]!].sort());
  assert.equal(seen.length, 2, 'begun once');
  assert.deepEqual(seen[0], [files[5]], 'begun with the first change, before the last runs were checked');
  assert.deepEqual([...seen[1]!].sort(), [files[390]!, files[5]!].sort(), 'the other thread found the last change while it went on');
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
  const changed = await changedSinceInParallel(stored, undefined, { minPerThread: 1 });
  assert.equal(changed.paths.length, 2, 'the target (followed) and the link (a new inode) both changed');
  rmSync(dir, { recursive: true, force: true });
});

test("a process waits for the thread's answer, and a thread never asked does not keep it alive", () => {
  const { dir, files, records } = recordedTree(200);
  writeFileSync(files[150]!, 'changed'); // (the thread checks them all)
  const storedFile = join(dir, 'records.bin');
  writeFileSync(storedFile, records.store().bytes);
  const moduleUrl = new URL('../src/fingerprint/statRecords.ts', import.meta.url).href;
  // The thread is started ahead and left idle for a while; then the process's only pending work is its answer.
  const code = `
    import { readFileSync } from 'node:fs';
    const { StatThread } = await import(${JSON.stringify(moduleUrl)});
    const idle = new StatThread(); // never asked: must not hold the process
    const bytes = readFileSync(${JSON.stringify(storedFile)});
    const thread = new StatThread();
    await new Promise((resolve) => setTimeout(resolve, 300));
    thread.check({ records: bytes, claim: new SharedArrayBuffer(4), count: bytes.readUInt32LE(0) }).then((c) => console.log(JSON.stringify(c.paths)));
  `;
  const script = join(dir, 'waits.mjs'); // (a file: a worker thread inherits --input-type, which it cannot use)
  writeFileSync(script, code);
  const t0 = Date.now();
  const child = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000, cwd: ROOT });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), [files[150]], 'the answer came before the process ended');
  assert.ok(Date.now() - t0 < 30_000, 'the idle thread did not hold the process');
  rmSync(dir, { recursive: true, force: true });
});

test('the stored form keeps every path (UTF-8 too) and its stat data, read where it lies or copied when misaligned', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-stat-'));
  const names = ['plain', 'café', '日本語', 'a b', ''];
  const r = new StatRecords();
  for (const name of names) {
    const p = join(dir, name);
    if (name) writeFileSync(p, name);
    r.addNow(p, name === 'a b');
  }
  r.addNow(join(dir, 'missing'));
  const stored = r.store();
  assert.equal(stored.count, names.length + 1);
  // A section of a file lies where it lies: here one byte in, which a Float64Array cannot view.
  const misaligned = Buffer.concat([Buffer.from([0]), stored.bytes]).subarray(1);
  for (const read of [stored, decodeRecords(stored.bytes), decodeRecords(misaligned)]) {
    assert.deepEqual(
      Array.from({ length: read.count }, (_, i) => read.path(i)),
      [...names.map((n) => join(dir, n)), join(dir, 'missing')],
    );
    assert.deepEqual([...read.follow], [0, 0, 0, 1, 0, 0]);
    assert.deepEqual([...read.size], [5, 5, 9, 3, 0, -1], 'sizes in bytes; a directory 0, a missing path -1');
    assert.deepEqual(changedSince(read).paths, [], 'read back, nothing changed');
  }
  writeFileSync(join(dir, '日本語'), 'changed');
  assert.deepEqual(changedSince(decodeRecords(misaligned)).paths, [join(dir, '日本語')]);
  rmSync(dir, { recursive: true, force: true });
});
