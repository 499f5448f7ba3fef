/** Reading HEAD from the repository's files (no git process per pass) agrees with git itself. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { headCommit, readHead } from '../src/reconcile/git.js';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.email=t@example.org', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();

test('readHead: loose and packed refs, a subdirectory, detached HEAD, a linked worktree, outside any repository', async () => {
  const root = mkdtempSync(join(tmpdir(), 'portsync-head-'));
  const repo = join(root, 'repo');
  mkdirSync(join(repo, 'ports', 'misc'), { recursive: true });
  git(repo, 'init', '-q');
  // An unborn branch: git has no answer, and neither do we.
  assert.equal(readHead(repo), undefined);
  assert.equal(await headCommit(repo), null);

  writeFileSync(join(repo, 'ports', 'misc', 'Makefile'), 'PORTNAME=x\n');
  git(repo, 'add', '.');
  git(repo, 'commit', '-qm', 'one');
  const one = git(repo, 'rev-parse', 'HEAD');
  assert.equal(readHead(repo), one);
  assert.equal(readHead(join(repo, 'ports', 'misc')), one, 'from a subdirectory of the work tree');

  git(repo, 'pack-refs', '--all');
  assert.equal(readHead(repo), one, 'packed refs');
  writeFileSync(join(repo, 'ports', 'misc', 'Makefile'), 'PORTNAME=y\n');
  git(repo, 'commit', '-qam', 'two');
  const two = git(repo, 'rev-parse', 'HEAD');
  assert.notEqual(two, one);
  assert.equal(readHead(repo), two, 'a loose ref newer than the packed one');

  git(repo, 'checkout', '-q', one);
  assert.equal(readHead(repo), one, 'detached HEAD');
  git(repo, 'checkout', '-q', 'main');

  const wt = join(root, 'wt');
  git(repo, 'worktree', 'add', '-q', '-b', 'side', wt, one);
  assert.equal(readHead(wt), one, 'a linked worktree (its .git is a file)');
  assert.equal(readHead(repo), two);
  assert.equal(await headCommit(wt), git(wt, 'rev-parse', 'HEAD'));

  const outside = mkdtempSync(join(tmpdir(), 'portsync-nohead-'));
  assert.equal(readHead(outside), null);
  assert.equal(await headCommit(outside), null);
});
