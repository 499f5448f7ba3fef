/**
 * The agent's tree check (src/distributed/treeCheck.ts) on a real tree: CRCs computed once are
 * kept while the files' stat data stays the same, and a job is still refused once a file it
 * depends on changed, was added or is gone; in commit mode, the commit checked out is kept while
 * the files git reads it from stay the same, and a checkout, a commit or a reset is noticed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
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

/** git in `dir`, as a user would run it. */
const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.email=t@example.org', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], {
    cwd: dir,
    encoding: 'utf8',
  }).trim();

/** Dates the files HEAD is read from an hour ago: old enough for their stat data to be trusted. */
function ageRefs(repo: string): void {
  const old = Date.now() / 1000 - 3600;
  for (const f of ['.git/HEAD', '.git/refs/heads/main', '.git/packed-refs'])
    if (existsSync(join(repo, f))) utimesSync(join(repo, f), old, old);
}

test('commit mode: git is asked once while HEAD stays, and a checkout, a commit or a reset is noticed', async () => {
  const repo = mkdtempSync(join(tmpdir(), 'portsync-treecheck-git-'));
  after(() => rmSync(repo, { recursive: true, force: true }));
  // The agent's tree is a directory of the repository, as examples/ports is.
  mkdirSync(join(repo, 'ports', 'devel', 'foo'), { recursive: true });
  writeFileSync(join(repo, 'ports', 'devel', 'foo', 'Makefile'), 'PORTNAME=foo\n');
  git(repo, 'init', '-q');
  git(repo, 'add', '.');
  git(repo, 'commit', '-qm', 'one');
  const one = git(repo, 'rev-parse', 'HEAD');
  writeFileSync(join(repo, 'ports', 'devel', 'foo', 'Makefile'), 'PORTNAME=foo\nPORTVERSION=2\n');
  git(repo, 'commit', '-qam', 'two');
  const two = git(repo, 'rev-parse', 'HEAD');
  ageRefs(repo);
  const at = (commit: string) => ({ origin: 'devel/foo', dir: 'devel/foo', tree: { kind: 'commit' as const, commit } });
  const check = new TreeCheck(join(repo, 'ports'));

  await check.check(at(two));
  await check.check(at(two));
  await check.check(at(two));
  assert.equal(check.gitRuns, 1, 'HEAD read once, then known by the stat data of its files');
  await assert.rejects(check.check(at(one)), (e: unknown) => {
    assert.ok(e instanceof TreeMismatchError);
    assert.equal(e.message.includes(`the job is for commit ${one}, this tree is at ${two}`), true, e.message);
    return true;
  });
  assert.equal(check.gitRuns, 1, 'a refused job asks git nothing more');

  // A checkout of another commit (HEAD detached: .git/HEAD rewritten) is noticed at the next check.
  git(repo, 'checkout', '-q', one);
  await assert.rejects(check.check(at(two)), new RegExp(`this tree is at ${one}`));
  await check.check(at(one));
  assert.equal(check.gitRuns, 3, 'asked again while HEAD is too fresh to be trusted by its stat data');

  // Back on the branch, then the branch moved by a reset (its ref file rewritten, HEAD not).
  git(repo, 'checkout', '-q', 'main');
  ageRefs(repo);
  await check.check(at(two));
  const runs = check.gitRuns;
  await check.check(at(two));
  assert.equal(check.gitRuns, runs, 'known again once the files are old enough');
  git(repo, 'reset', '-q', '--hard', one);
  await assert.rejects(check.check(at(two)), new RegExp(`this tree is at ${one}`));

  // The loose ref packed away (pack-refs) and then a new commit: the commit is read from packed-refs, then the new ref.
  git(repo, 'pack-refs', '--all');
  ageRefs(repo);
  await check.check(at(one));
  writeFileSync(join(repo, 'ports', 'devel', 'foo', 'Makefile'), 'PORTNAME=foo\nPORTVERSION=3\n');
  git(repo, 'commit', '-qam', 'three');
  const three = git(repo, 'rev-parse', 'HEAD');
  await assert.rejects(check.check(at(one)), new RegExp(`this tree is at ${three}`));
  await check.check(at(three));
});

test('commit mode: a tree that is not a git work tree refuses the job', async () => {
  const plain = mkdtempSync(join(tmpdir(), 'portsync-treecheck-plain-'));
  after(() => rmSync(plain, { recursive: true, force: true }));
  const check = new TreeCheck(plain);
  await assert.rejects(
    check.check({ origin: 'devel/foo', dir: 'devel/foo', tree: { kind: 'commit', commit: 'a'.repeat(40) } }),
    /the job is for commit a{40}, and this tree is not a git work tree/,
  );
});
