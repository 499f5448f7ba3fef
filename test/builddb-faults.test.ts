import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BuildDB } from '../src/builddb/db.js';
import { DatabaseCorruptError, DatabaseLockedError, DatabaseUnavailableError } from '../src/builddb/errors.js';
import { FailSafeBuildDB } from '../src/builddb/failsafe.js';
import { computeBuildKey } from '../src/fingerprint/buildKey.js';
import type { BuildKeyParts } from '../src/fingerprint/types.js';

const ROOT = resolve(import.meta.dirname, '..');
const isRoot = process.getuid?.() === 0;
const NOT_ROOT = 'needs root to mount a tmpfs (read-only and full-disk faults cannot be caused otherwise: root ignores permission bits)';

const PARTS: BuildKeyParts = { portCrc: '0a1b2c3d', makefiles: {}, vars: {}, options: [], environment: {}, dependencies: {} };
const KEY = computeBuildKey(PARTS);
const startInput = (origin: string) => ({
  origin,
  pkgname: 'x-1',
  version: '1',
  crc: PARTS.portCrc,
  buildKey: KEY,
  keyParts: PARTS,
  logPath: '/logs/x.log',
  reason: 'new',
});

let dir: string;
const mounts: string[] = [];
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'portsync-builddb-faults-'));
});
after(() => {
  for (const m of mounts.reverse()) spawnSync('umount', [m]);
  rmSync(dir, { recursive: true, force: true });
});

function mountTmpfs(name: string, size: string): string {
  const m = join(dir, name);
  mkdirSync(m, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', m]);
  mounts.push(m);
  return m;
}

/** A real second process holding the database read-write. */
async function startHolder(path: string): Promise<ChildProcess> {
  const script = join(dir, 'holder.mjs');
  writeFileSync(
    script,
    `import { BuildDB } from ${JSON.stringify(join(ROOT, 'src/builddb/db.ts'))};
await BuildDB.open(process.argv[2], { processInfo: 'portsync watch (test holder)' });
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script, path], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && res());
    child.once('exit', (code) => rej(new Error(`holder exited early (${code})`)));
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  child.kill('SIGKILL');
  await exited;
}

function collectingLog() {
  const lines: string[] = [];
  return { lines, log: (m: string) => void lines.push(m) };
}

describe('database held by another process', () => {
  test('open is refused with DatabaseLockedError naming the holder and what to do', async () => {
    const path = join(dir, 'locked', 'builddb.duckdb');
    const child = await startHolder(path);
    try {
      for (const readOnly of [false, true]) {
        await assert.rejects(BuildDB.open(path, { readOnly }), (e) => {
          assert.ok(e instanceof DatabaseLockedError, String(e));
          assert.equal(e.file, path);
          assert.equal(e.holderPid, child.pid);
          assert.equal(e.holderCommand, 'portsync watch (test holder)');
          assert.ok(e.message.includes(`another portsync (pid ${child.pid}: portsync watch (test holder)) holds it`), e.message);
          assert.match(e.message, /run this through the daemon .* or stop it/);
          return true;
        });
      }
      // A stale sidecar (its pid gone) must not mislead: the holder is then named from DuckDB's own message and /proc.
      const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
      writeFileSync(`${path}.owner`, JSON.stringify({ pid: Number(gone), command: 'stale one', started: '' }));
      await assert.rejects(BuildDB.open(path), (e) => {
        assert.ok(e instanceof DatabaseLockedError);
        assert.equal(e.holderPid, child.pid);
        assert.ok(!e.message.includes('stale one'), e.message);
        assert.match(e.holderCommand ?? '', /holder\.mjs/);
        return true;
      });

      const { lines, log } = collectingLog();
      const fs = await FailSafeBuildDB.open(path, {}, log);
      assert.equal(fs.available, false);
      assert.match(lines[0] ?? '', /builddb: open .* failed, builds continue without recording: .*locked/);
      assert.deepEqual(await fs.knownStatesWithoutParts(), [], 'an unavailable database knows no port: every port is built');
      assert.match(await fs.startBuild(startInput('misc/a')), /^[0-9a-f-]{36}$/);
      await fs.finishBuild('00000000-0000-4000-8000-000000000000', 'success');
      assert.ok(
        lines.some((l) => l.includes('startBuild misc/a not recorded')),
        lines.join('\n'),
      );
    } finally {
      await stop(child);
    }
    const db = await BuildDB.open(path);
    await db.close();
  });
});

describe('corrupt database file', () => {
  test('garbage bytes give DatabaseCorruptError naming the file and suggesting to move it aside', async () => {
    const path = join(dir, 'corrupt.duckdb');
    writeFileSync(path, Buffer.alloc(64 * 1024, 0x5a));
    for (const readOnly of [false, true]) {
      await assert.rejects(BuildDB.open(path, { readOnly }), (e) => {
        assert.ok(e instanceof DatabaseCorruptError, String(e));
        assert.equal(e.file, path);
        assert.equal(e.operation, 'open');
        assert.ok(e.message.includes(`mv ${path} ${path}.corrupt`), e.message);
        assert.ok(e.cause instanceof Error);
        return true;
      });
    }
    assert.ok(!existsSync(`${path}.owner`));
    const { lines, log } = collectingLog();
    const fs = await FailSafeBuildDB.open(path, {}, log);
    assert.equal(fs.available, false);
    assert.match(lines.join('\n'), /corrupt/);
    assert.deepEqual(await fs.knownStatesWithoutParts(), []);
    assert.equal(readFileSync(path).subarray(0, 4).toString(), 'ZZZZ', 'the corrupt file is left as it was');
  });
});

describe('read-only storage', () => {
  test('a read-only filesystem gives DatabaseUnavailableError; read-only open still reads', { skip: !isRoot && NOT_ROOT }, async () => {
    const m = mountTmpfs('ro', '4m');
    const path = join(m, 'builddb.duckdb');
    const db = await BuildDB.open(path);
    const id = await db.startBuild(startInput('misc/kept'));
    await db.finishBuild(id, 'success');
    await db.close();
    execFileSync('mount', ['-o', 'remount,ro', m]);

    await assert.rejects(BuildDB.open(path), (e) => e instanceof DatabaseUnavailableError && e.reason === 'read-only' && e.file === path);
    const fresh = join(m, 'sub', 'new.duckdb');
    await assert.rejects(BuildDB.open(fresh), (e) => e instanceof DatabaseUnavailableError && e.reason === 'read-only' && e.file === fresh);

    const ro = await BuildDB.open(path, { readOnly: true });
    try {
      assert.equal((await ro.build(id))?.status, 'success');
    } finally {
      await ro.close();
    }
    const { lines, log } = collectingLog();
    const fs = await FailSafeBuildDB.open(path, {}, log);
    assert.equal(fs.available, false);
    assert.match(lines[0] ?? '', /cannot be written/);
    const runId = await fs.startRun({ trigger: 'manual' });
    assert.match(runId, /^[0-9a-f-]{36}$/);
    await fs.finishRun(runId, 'success');
  });
});

describe('full disk', () => {
  test(
    'writes on a full disk fail with a typed error, the fail-safe wrapper logs them, and earlier rows survive',
    { skip: !isRoot && NOT_ROOT },
    async () => {
      const m = mountTmpfs('full', '2m');
      const path = join(m, 'builddb.duckdb');
      let db = await BuildDB.open(path);
      const kept = await db.startBuild(startInput('misc/kept'));
      await db.finishBuild(kept, 'success', { lastPhase: 'package' });
      await db.updateCRC('misc/kept', '0a1b2c3d', KEY, PARTS);

      // Fill every free byte of the filesystem.
      const fd = openSync(join(m, 'filler'), 'w');
      const block = Buffer.alloc(16 * 1024);
      try {
        for (;;) writeSync(fd, block);
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
      }
      try {
        for (;;) writeSync(fd, block, 0, 1);
      } catch {
        // the last bytes are taken too
      }
      closeSync(fd);

      let failure: unknown;
      for (let i = 0; i < 500 && !failure; i++) {
        try {
          await db.recordPhase(kept, `phase-${i}-${'x'.repeat(200)}`, new Date(), 1, 0);
        } catch (err) {
          failure = err;
        }
      }
      assert.ok(failure instanceof DatabaseUnavailableError, `expected a typed error, got ${String(failure)}`);
      assert.equal(failure.reason, 'disk-full');
      assert.equal(failure.file, path);
      assert.equal(failure.buildId, kept);
      assert.match(failure.message, /disk is full during recordPhase/);

      const { lines, log } = collectingLog();
      const fs = new FailSafeBuildDB(db, log);
      await fs.recordPhases(
        kept,
        Array.from({ length: 50 }, (_, i) => ({ phase: `p${i}`.padEnd(300, 'y'), startedAt: new Date(), durationMs: 1, exitCode: 0 })),
      );
      assert.match(lines[0] ?? '', new RegExp(`builddb: recordPhases build ${kept} failed: .*disk is full`));
      assert.equal(fs.failures, 1);

      execFileSync('mount', ['-o', 'remount,size=32m', m]);
      await db.close();
      db = await BuildDB.open(path);
      try {
        const b = await db.build(kept);
        assert.equal(b?.status, 'success');
        assert.equal(b?.lastPhase, 'package');
        assert.equal((await db.portState('misc/kept'))?.crc, '0a1b2c3d');
        const id = await db.startBuild(startInput('misc/after'));
        assert.equal((await db.build(id))?.status, 'running', 'the database accepts writes again');
      } finally {
        await db.close();
      }
    },
  );
});
