/**
 * Recording as an observer of the scheduler's run (src/builder/recording.ts), on a real DuckDB
 * file: the events of a build come as fast as a remote agent sends them, before the build's row
 * is written, and are still recorded in order under the right attempt.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildDB } from '../src/builddb/db.js';
import { FailSafeBuildDB } from '../src/builddb/failsafe.js';
import { BuildRecorder } from '../src/builder/recording.js';
import type { RunningBuild } from '../src/builder/runObserver.js';
import { computeBuildKey } from '../src/fingerprint/buildKey.js';
import type { BuildKeyParts } from '../src/fingerprint/types.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'portsync-recording-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function open(): Promise<{ db: BuildDB; recorder: BuildRecorder; log: string[] }> {
  const base = join(dir, String(++n));
  mkdirSync(join(base, 'logs'), { recursive: true });
  const db = await BuildDB.open(join(base, 'builddb.duckdb'));
  const log: string[] = [];
  const safe = new FailSafeBuildDB(db, (l) => log.push(l));
  const runId = await db.startRun({ trigger: 'test', gitCommit: null });
  const recorder = new BuildRecorder({
    db: safe,
    runId,
    trigger: 'test',
    logs: { dir: join(base, 'logs'), keep: 3 },
    warn: (l) => log.push(l),
  });
  return { db, recorder, log };
}

const parts: BuildKeyParts = {
  portCrc: '0a1b2c3d',
  makefiles: { 'Mk/bsd.port.mk': '11111111' },
  vars: {},
  options: [],
  environment: { backend: 'host' },
  dependencies: {},
};

function build(buildId: string): RunningBuild {
  return {
    origin: 'devel/libalpha',
    pkgname: 'libalpha-1.0',
    version: '1.0',
    crc: parts.portCrc,
    pkgfile: 'libalpha-1.0.pkg',
    packages: join(dir, 'packages'),
    slot: 0,
    buildKey: computeBuildKey(parts),
    keyParts: parts,
    reason: 'new: never built',
    logPath: join(dir, 'libalpha.log'),
    buildId,
  };
}

const at = new Date('2026-01-01T00:00:00Z').toISOString();
const phaseEnd = (phase: string, exitCode = 0) => ({ type: 'phase-end' as const, phase, startedAt: at, durationMs: 5, exitCode });
const hostColumn = async (db: BuildDB, buildId: string) =>
  (await db.query(`SELECT host FROM builds WHERE build_id = '${buildId}'`)).rows[0]?.[0];

test('a build whose events all come before its row is written is recorded whole: row, host, phases in order, end and port state', async () => {
  const { db, recorder, log } = await open();
  const b = build(crypto.randomUUID());
  // Nothing awaited in between: the agent's burst arrives while the start is still being written.
  recorder.portStarted(b);
  recorder.phase(b, { type: 'host', host: 'agent07' });
  for (const phase of ['fetch', 'extract', 'build', 'package']) {
    recorder.phase(b, { type: 'phase-start', phase, at });
    recorder.phase(b, phaseEnd(phase));
  }
  const pkg = { identity: 'i'.repeat(64), checksum: 'c'.repeat(64), shlibs: [] };
  await recorder.buildFinished(b, { status: 'success', lastPhase: 'package', durationMs: 20, package: pkg });
  assert.deepEqual(log, [], 'no write failed');
  const row = await db.build(b.buildId);
  assert.equal(row?.status, 'success');
  assert.equal(row?.package?.checksum, pkg.checksum);
  assert.equal(await hostColumn(db, b.buildId), 'agent07');
  assert.deepEqual(
    (await db.phases(b.buildId)).map((p) => p.phase),
    ['fetch', 'extract', 'build', 'package'],
  );
  const state = await db.portState(b.origin);
  assert.equal(state?.buildId, b.buildId, "the port's state names the build");
  assert.equal(state?.buildKey, b.buildKey);
  await recorder.passEnd();
  await db.close();
});

test('a lost remote attempt is recorded interrupted with its own phases; the next attempt is a build of its own', async () => {
  const { db, recorder, log } = await open();
  const first = crypto.randomUUID();
  const b = build(first);
  recorder.portStarted(b);
  recorder.phase(b, { type: 'host', host: 'agent01' });
  recorder.phase(b, phaseEnd('fetch'));
  // The scheduler gives the next attempt its id before telling the observers.
  const second = crypto.randomUUID();
  b.buildId = second;
  recorder.attemptLost(b, { buildId: first, reason: 'agent agent01 stopped answering', lastPhase: 'extract' });
  recorder.phase(b, { type: 'host', host: 'agent02' });
  recorder.phase(b, phaseEnd('fetch'));
  recorder.phase(b, phaseEnd('extract', 1));
  await recorder.buildFinished(b, { status: 'failed', lastPhase: 'extract', error: 'extract exited 1', durationMs: 9 });
  assert.deepEqual(log, []);
  const lost = await db.build(first);
  assert.equal(lost?.status, 'interrupted');
  assert.equal(lost?.lastPhase, 'extract');
  assert.equal(lost?.error, 'agent agent01 stopped answering');
  assert.equal(await hostColumn(db, first), 'agent01');
  assert.deepEqual(
    (await db.phases(first)).map((p) => p.phase),
    ['fetch'],
  );
  const retried = await db.build(second);
  assert.equal(retried?.status, 'failed');
  assert.equal(await hostColumn(db, second), 'agent02');
  assert.deepEqual(
    (await db.phases(second)).map((p) => p.phase),
    ['fetch', 'extract'],
  );
  // A failure of the port (not transient) is remembered against its key, named by the attempt that failed.
  const state = await db.portState(b.origin);
  assert.equal(state?.failedKey, b.buildKey);
  assert.equal(state?.failedBuildId, second);
  await db.close();
});

test('a transient failure ends the build but is not held against the port', async () => {
  const { db, recorder } = await open();
  const b = build(crypto.randomUUID());
  recorder.portStarted(b);
  await recorder.buildFinished(b, { status: 'failed', lastPhase: 'fetch', error: 'no route to host', transient: true, durationMs: 3 });
  assert.equal((await db.build(b.buildId))?.status, 'failed');
  assert.equal((await db.portState(b.origin))?.failedKey ?? null, null);
  await db.close();
});
