/**
 * What a fresh process's plan reads of the build database (knownStates): the same known state as
 * the whole rows give, from a real DuckDB file opened read-only as `portsync plan` opens it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildDB } from '../src/builddb/db.js';
import { computeBuildKey } from '../src/fingerprint/buildKey.js';
import type { BuildKeyParts } from '../src/fingerprint/types.js';
import { keyPartsReader, knownFromRows, readAhead } from '../src/reconcile/known.js';
import { KEY_PARTS_NOT_READ, KeyPartsNotReadError, recordedParts } from '../src/reconcile/decide.js';

const parts = (portCrc: string): BuildKeyParts => ({
  portCrc,
  makefiles: { 'Mk/bsd.port.mk': '11111111' },
  framework: { 'Mk/Scripts/do.sh': '22222222' },
  vars: {},
  options: [],
  environment: { backend: 'chroot' },
  dependencies: {},
});

test('knownStates gives the plan what the whole port_state rows give: keys, parts, failure marker, package, version; without parts and by origin too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-known-'));
  const path = join(dir, 'builddb.duckdb');
  const db = await BuildDB.open(path);
  const built = parts('0000000a');
  const failed = parts('0000000b');
  const run = await db.startRun({ trigger: 'manual' });
  for (const [origin, p, ok] of [
    ['devel/built', built, true],
    ['devel/broken', failed, false],
  ] as const) {
    const buildKey = computeBuildKey(p);
    const buildId = await db.startBuild({
      runId: run,
      origin,
      pkgname: 'x-1.0',
      version: '1.0',
      crc: p.portCrc,
      buildKey,
      keyParts: p,
      logPath: '/l',
      reason: 'new',
    });
    if (ok) {
      await db.finishBuild(buildId, 'success', { package: { identity: 'i'.repeat(64), checksum: 'c'.repeat(64), shlibs: ['libx.so.1'] } });
      await db.recordSuccess(origin, {
        crc: p.portCrc,
        buildKey,
        keyParts: p,
        version: '1.0',
        buildId,
        pkgfile: 'built-1.0.pkg',
        pkgname: 'built-1.0',
        package: { identity: 'i'.repeat(64), checksum: 'c'.repeat(64), shlibs: ['libx.so.1'] },
      });
    } else {
      await db.finishBuild(buildId, 'failed', { lastPhase: 'build', error: 'exit 1' });
      await db.recordFailure(origin, buildKey, buildId);
    }
  }
  await db.close();

  const ro = await BuildDB.open(path, { readOnly: true });
  try {
    const plain = (m: ReturnType<typeof knownFromRows>) =>
      [...m].map(([o, k]) => ({
        o,
        buildKey: k.buildKey,
        keyParts: k.keyParts,
        failedKey: k.failedKey,
        package: k.package,
        pkgfile: k.pkgfile,
        version: k.version,
      }));
    const slim = plain(knownFromRows(await ro.knownStates()));
    assert.deepEqual(slim, plain(knownFromRows(await ro.allPortState())));
    assert.deepEqual(
      slim.map((k) => k.o),
      ['devel/broken', 'devel/built'],
    );
    const b = slim[1]!;
    assert.equal(b.buildKey, computeBuildKey(built));
    assert.deepEqual(b.keyParts, built, 'the parts come back whole (file sets resolved)');
    assert.deepEqual(b.package, { identity: 'i'.repeat(64), checksum: 'c'.repeat(64), shlibs: ['libx.so.1'] });
    assert.equal(b.version, '1.0');
    assert.equal(slim[0]!.failedKey, computeBuildKey(failed));
    assert.equal(slim[0]!.buildKey, null);

    // Without the parts: everything else the same, the parts marked as not read (decide asks for them).
    const summary = plain(knownFromRows(await ro.knownStatesWithoutParts()));
    assert.deepEqual(
      summary,
      slim.map((k) => ({ ...k, keyParts: KEY_PARTS_NOT_READ })),
    );
    const unread = knownFromRows(await ro.knownStatesWithoutParts()).get('devel/built');
    assert.throws(() => recordedParts(unread), KeyPartsNotReadError);
    // Some origins, parts included (an origin without a row is left out).
    const some = plain(knownFromRows(await ro.knownStates(['devel/built', 'devel/nothing'])));
    assert.deepEqual(some, [slim[1]]);

    // Read ahead (the daemon, while make reads a port again): asked later, the early answer is given and the rest read then.
    const asked: string[][] = [];
    const counted = keyPartsReader({ knownStates: (origins: readonly string[]) => (asked.push([...origins]), ro.knownStates(origins)) });
    const ahead = readAhead(counted, ['devel/built']);
    assert.deepEqual(asked, [['devel/built']], 'read at once');
    const got = await ahead(['devel/broken', 'devel/built']);
    assert.deepEqual(asked, [['devel/built'], ['devel/broken']], 'only what was not read ahead is read when asked');
    assert.deepEqual(plain(new Map([...got].sort(([a], [b]) => (a < b ? -1 : 1)))), slim, 'the same states as one read of both');
    assert.deepEqual(plain(new Map(await ahead(['devel/built']))), [slim[1]], 'asked again: the early answer, not read again');
    assert.equal(asked.length, 2);
  } finally {
    await ro.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
