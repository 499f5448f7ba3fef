/**
 * source: commit — exactly the committed state of the branch is reconciled, from a checkout
 * portsync owns; uncommitted edits (to the tree or builds.yaml) change nothing until committed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineProgress } from '../src/builder/progress.js';
import { ConfigError } from '../src/config/errors.js';
import { observe } from '../src/reconcile/observe.js';
import { makePlan } from '../src/reconcile/plan.js';
import { reconcilePass } from '../src/reconcile/pass.js';
import { resolvePassSource } from '../src/reconcile/source.js';
import { BuildDB } from '../src/builddb/db.js';
import { knownFromRows } from '../src/reconcile/known.js';
import { bmakeMissing } from './helpers/minitree.js';
import { EXAMPLE_TREE } from './helpers/project.js';

const skip = bmakeMissing();
let repo: string;
const config = () => join(repo, 'builds.yaml');
const git = (...args: string[]) =>
  execFileSync('git', ['-c', 'user.email=t@example.org', '-c', 'user.name=t', ...args], { cwd: repo, encoding: 'utf8' }).trim();

function yaml(ports: string[]): string {
  return [
    'portsTree: { path: ports, source: commit, branch: main }',
    'make: { command: bmake, env: { MAKESYSPATH: ./ports/Mk } }',
    'environment: { backend: host }',
    `ports:\n${ports.map((p) => `  - ${p}`).join('\n')}`,
    '',
  ].join('\n');
}

async function pass() {
  const source = await resolvePassSource(config());
  return reconcilePass(source.state, {
    trigger: 'test',
    progress: new LineProgress(() => {}),
    log: () => {},
    tree: source.tree,
    ...(source.gitCommit ? { gitCommit: source.gitCommit } : {}),
  });
}

async function planNow() {
  const source = await resolvePassSource(config());
  const obs = await observe(source.state, { tree: source.tree });
  const db = existsSync(source.state.paths.database) ? await BuildDB.open(source.state.paths.database, { readOnly: true }) : null;
  try {
    return makePlan(obs, { known: knownFromRows(db ? await db.allPortState() : []) });
  } finally {
    await db?.close();
  }
}

before(() => {
  repo = mkdtempSync(join(tmpdir(), 'portsync-commit-'));
  cpSync(EXAMPLE_TREE, join(repo, 'ports'), { recursive: true });
  writeFileSync(config(), yaml(['misc/help2man']));
  writeFileSync(join(repo, '.gitignore'), '.portsync/\n');
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'initial');
});
after(() => rmSync(repo, { recursive: true, force: true }));

test('reconciles the committed state, records the commit, ignores uncommitted edits', { skip }, async () => {
  const head = git('rev-parse', 'HEAD');
  const first = await pass();
  assert.equal(first.stats.success, 1);
  assert.equal(first.gitCommit, head);
  const db = await BuildDB.open(join(repo, '.portsync/builddb.duckdb'), { readOnly: true });
  assert.equal((await db.runs(1))[0]!.gitCommit, head);
  await db.close();
  assert.ok(existsSync(join(repo, '.portsync/build/checkout/ports/misc/help2man/Makefile')), "builds read portsync's own checkout");

  // Uncommitted: a port change and a builds.yaml change. Nothing to do.
  appendFileSync(join(repo, 'ports/misc/help2man/Makefile'), '# uncommitted\n');
  writeFileSync(config(), yaml(['misc/help2man', 'math/numbase']));
  const idle = await planNow();
  assert.deepEqual(idle.summary, { total: 1, build: 0, skip: 1, pending: 0, ignored: 0, blocked: 0, prune: 0 });

  // Committed: both take effect.
  git('commit', '-qam', 'help2man: comment; add math/numbase');
  const plan = await planNow();
  const actions = Object.fromEntries(plan.ports.map((p) => [p.origin, `${p.action}:${p.reasons[0]?.kind}`]));
  assert.deepEqual(actions, { 'misc/help2man': 'build:port-changed', 'math/numbase': 'build:new' });
  const second = await pass();
  assert.equal(second.stats.success, 2);
  assert.equal(second.gitCommit, git('rev-parse', 'HEAD'));
  // The user's working copy was never touched by portsync.
  assert.equal(git('status', '--porcelain'), '');
});

test('an invalid committed builds.yaml is an error with its position; the working copy is not consulted', { skip }, async () => {
  writeFileSync(config(), yaml(['misc/help2man']).replace('environment:', 'enviroment:'));
  git('commit', '-qam', 'typo');
  writeFileSync(config(), yaml(['misc/help2man'])); // fixed on disk only
  await assert.rejects(resolvePassSource(config()), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /builds\.yaml:3:1: unknown key "enviroment"/);
    return true;
  });
  git('commit', '-qam', 'fix typo');
  assert.equal((await resolvePassSource(config())).gitCommit, git('rev-parse', 'HEAD'));
});

test('a missing branch is a clear error', { skip }, async () => {
  writeFileSync(config(), yaml(['misc/help2man']).replace('branch: main', 'branch: release'));
  await assert.rejects(resolvePassSource(config()), /branch "release" does not exist/);
  git('checkout', '-q', '--', 'builds.yaml');
  assert.equal(readFileSync(config(), 'utf8').includes('branch: main'), true);
});
