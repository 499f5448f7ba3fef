/**
 * The agent's tree check (src/distributed/treeCheck.ts) on a real tree: CRCs computed once are
 * kept while the files' stat data stays the same, and a job is still refused once a file it
 * depends on changed, was added or is gone.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TreeMismatchError } from '../src/distributed/errors.js';
import type { BuildJob } from '../src/distributed/job.js';
import { TreeCheck } from '../src/distributed/treeCheck.js';
import { computeFileCRC, computePortCRC } from '../src/fingerprint/portCrc.js';

const tree = mkdtempSync(join(tmpdir(), 'portsync-treecheck-'));
after(() => rmSync(tree, { recursive: true, force: true }));

let writes = 0;
/** Writes a file of the tree dated an hour ago (a second apart from every other write): old enough for its stat data to be trusted. */
function write(rel: string, text: string): void {
  const abs = join(tree, rel);
  mkdirSync(join(abs, '..'), { recursive: true });
  writeFileSync(abs, text);
  const old = Date.now() / 1000 - 3600 - ++writes;
  utimesSync(abs, old, old);
  utimesSync(join(abs, '..'), old, old);
}

/** The job the coordinator would send for devel/foo, with the CRCs of the tree as it is now. */
async function job(): Promise<Pick<BuildJob, 'origin' | 'dir' | 'tree'>> {
  return {
    origin: 'devel/foo',
    dir: 'devel/foo',
    tree: {
      kind: 'worktree',
      portCrc: await computePortCRC(join(tree, 'devel/foo')),
      files: { 'Mk/bsd.port.mk': computeFileCRC(join(tree, 'Mk/bsd.port.mk')), '@profile/x.mk': '00000000' },
    },
  };
}

test('the tree check keeps the CRCs of unchanged files, and refuses a job once a file it reads changed', async () => {
  write('Mk/bsd.port.mk', 'all:\n\t@true\n');
  write('devel/foo/Makefile', 'PORTNAME=foo\nPORTVERSION=1.0\n');
  const check = new TreeCheck(tree);
  const first = await job();

  await check.check(first);
  assert.equal(check.reads, 2, 'the port directory and the framework file read once');
  await check.check(first);
  await check.check(first);
  assert.equal(check.reads, 2, 'then known by their stat data: nothing read again');

  // The same size, other content: the mtime moved, so the port is read again and the old job refused.
  write('devel/foo/Makefile', 'PORTNAME=foo\nPORTVERSION=1.1\n');
  await assert.rejects(check.check(first), (e: unknown) => {
    assert.ok(e instanceof TreeMismatchError);
    assert.equal(e.origin, 'devel/foo');
    assert.match(e.message, /devel\/foo has CRC [0-9a-f]{8} here, [0-9a-f]{8} on the coordinator/);
    return true;
  });
  const second = await job();
  await check.check(second);

  // A file added to the port directory changes its CRC too.
  write('devel/foo/files/patch-a', '--- a\n+++ b\n');
  await assert.rejects(check.check(second), TreeMismatchError);
  const third = await job();
  await check.check(third);

  // A framework file changed, then one removed.
  write('Mk/bsd.port.mk', 'all:\n\t@false\n');
  await assert.rejects(check.check(third), /Mk\/bsd\.port\.mk has CRC [0-9a-f]{8} here/);
  const fourth = await job();
  await check.check(fourth);
  rmSync(join(tree, 'Mk/bsd.port.mk'));
  await assert.rejects(check.check(fourth), /Mk\/bsd\.port\.mk is missing here/);
});

test('a file modified too recently to be trusted by its stat data is read again at every check', async () => {
  write('Mk/bsd.port.mk', 'all:\n');
  write('devel/foo/Makefile', 'PORTNAME=foo\n');
  writeFileSync(join(tree, 'devel/foo/Makefile'), 'PORTNAME=bar\n'); // now: within the racy window
  const check = new TreeCheck(tree);
  const j = await job();
  await check.check(j);
  await check.check(j);
  assert.equal(check.reads, 3, 'the framework file read once, the fresh Makefile twice');
});
