/** Cleanup never follows a symbolic link out of its own workers directory, and a new pass clears what a killed one left. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupStaleWorkers, workersDir } from '../src/builder/sandbox/workers.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject } from './helpers/project.js';

const root = mkdtempSync(join(tmpdir(), 'portsync-cleanup-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A directory outside portsync's, with a file that must survive. */
function victim(name: string): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'precious'), 'keep me');
  return d;
}

test('a symlink planted among the worker directories is removed itself; its target is untouched', async () => {
  const base = join(root, 'b1');
  const outside = victim('outside1');
  mkdirSync(workersDir(base), { recursive: true });
  symlinkSync(outside, join(workersDir(base), '0-deadbeef'));
  symlinkSync('/', join(workersDir(base), '1-root'));
  const report = await cleanupStaleWorkers(base);
  assert.deepEqual(report.removed.sort(), [join(workersDir(base), '0-deadbeef'), join(workersDir(base), '1-root')]);
  assert.deepEqual(report.unmounted, [], 'nothing was unmounted');
  assert.equal(readFileSync(join(outside, 'precious'), 'utf8'), 'keep me');
  assert.ok(!existsSync(join(workersDir(base), '0-deadbeef')));
});

test('a workers directory that is itself a symlink is refused, not followed', async () => {
  const base = join(root, 'b2');
  const outside = victim('outside2');
  mkdirSync(join(outside, '0-old'));
  utimesSync(join(outside, '0-old'), new Date(0), new Date(0));
  mkdirSync(base, { recursive: true });
  symlinkSync(outside, workersDir(base));
  const report = await cleanupStaleWorkers(base);
  assert.equal(report.removed.length, 0);
  assert.match(report.refused[0]?.reason ?? '', /symbolic link/);
  assert.ok(existsSync(join(outside, '0-old')) && lstatSync(workersDir(base)).isSymbolicLink());
});

test('a pass removes the worker directories a killed run left behind', { skip: bmakeMissing() }, async () => {
  const p = new TestProject({ ports: ['misc/help2man'], backend: 'host' });
  try {
    const stale = join(p.dir, '.portsync/build/workers/0-0badc0de');
    mkdirSync(join(stale, 'localbase'), { recursive: true });
    // Owned by a process that is gone.
    writeFileSync(
      join(stale, 'owner.json'),
      JSON.stringify({ pid: 2 ** 22 - 1, startTime: 1, slot: 0, backend: 'host', createdAt: new Date(0).toISOString() }),
    );
    const r = await p.pass();
    assert.equal(r.stats.success, 1);
    assert.ok(!existsSync(stale), 'the stale directory is gone');
    assert.ok(
      r.lines.some((l) => /removed 1 stale worker directory left by an earlier run/.test(l)),
      r.lines.join('\n'),
    );
  } finally {
    p.remove();
  }
});
