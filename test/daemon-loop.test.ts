/**
 * The pass loop in-process, with real passes (bmake, host backend, a real DuckDB file) over a
 * copy of the example tree: coalescing, debounce, invalid builds.yaml, transient-failure retry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './helpers/wait.js';
import { FailSafeBuildDB } from '../src/builddb/failsafe.js';
import { loadDesiredState } from '../src/config/load.js';
import { PassLoop, LoopStoppedError } from '../src/reconcile/loop.js';
import { CommitSourceError } from '../src/reconcile/errors.js';
import { classifyPassError } from '../src/reconcile/passFailure.js';
import { ConfigError } from '../src/config/errors.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bmake = spawnSync('bmake', ['-V', 'MAKE_VERSION', '-f', '/dev/null']).status === 0;

const yaml = (extra = '') => `portsTree:
  path: ports
make:
  command: bmake
  env:
    MAKESYSPATH: ./ports/Mk
environment:
  backend: host
ports:
  - misc/greet
watch:
  resyncInterval: 10m
  debounce: 300ms
${extra}`;

/** A copy of the example tree, builds.yaml (`text`), a database and a loop; `prepare` runs before the state is loaded (git init…). */
async function setup(
  t: { after(fn: () => unknown): void },
  opts: { text?: string; prepare?: (dir: string) => void; backoff?: { initialMs: number; maxMs: number } } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-loop-'));
  cpSync(join(ROOT, 'examples', 'ports'), join(dir, 'ports'), { recursive: true });
  const file = join(dir, 'builds.yaml');
  writeFileSync(file, opts.text ?? yaml());
  opts.prepare?.(dir);
  const state = await loadDesiredState(file);
  const lines: string[] = [];
  const db = await FailSafeBuildDB.open(state.paths.database, {}, (l) => lines.push(l));
  const loop = new PassLoop({
    configFile: file,
    state,
    db,
    log: (l) => lines.push(l),
    backoff: opts.backoff ?? { initialMs: 200, maxMs: 400 },
  });
  t.after(async () => {
    await loop.stop();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const runs = async () => (await db.db!.runs(100)).length;
  return { dir, file, db, loop, lines, runs };
}

test('requests during a pass coalesce into exactly one more pass', { timeout: 60_000 }, async (t) => {
  if (!bmake) return t.skip('bmake is not installed: passes read the ports tree with bmake');
  const { loop, runs } = await setup(t);
  const first = loop.requestPass('manual', 'first');
  await waitFor('the first pass to start', () => loop.status().current);
  const during = [1, 2, 3, 4, 5].map((i) => loop.requestPass(i % 2 ? 'watch' : 'webhook', `event ${i}`));
  assert.deepEqual(loop.status().pending?.triggers.sort(), ['watch', 'webhook']);
  const r1 = await first;
  const after = await Promise.all(during);
  assert.equal(new Set(after.map((r) => r.runId)).size, 1, 'every request during the pass is answered by the same next pass');
  assert.notEqual(after[0]!.runId, r1.runId);
  assert.equal(await runs(), 2);
  assert.equal(loop.status().lastPass?.trigger, 'webhook', 'the coalesced pass records the most deliberate trigger');
});

test('watch events within the debounce time start a single pass', { timeout: 60_000 }, async (t) => {
  if (!bmake) return t.skip('bmake is not installed: passes read the ports tree with bmake');
  const { loop, runs } = await setup(t);
  const results: Promise<{ runId: string }>[] = [];
  for (let i = 0; i < 5; i++) {
    results.push(loop.requestPass('watch', `file ${i}`));
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(loop.status().current, null, 'nothing starts before the debounce time passed');
  const ids = new Set((await Promise.all(results)).map((r) => r.runId));
  assert.equal(ids.size, 1);
  assert.equal(await runs(), 1);
  assert.equal(loop.status().lastPass?.trigger, 'watch');
});

test('an invalid builds.yaml keeps the last good state and reports FILE:LINE:COL until fixed', { timeout: 60_000 }, async (t) => {
  if (!bmake) return t.skip('bmake is not installed: passes read the ports tree with bmake');
  const { loop, file, lines } = await setup(t);
  writeFileSync(file, yaml('workers: many\n'));
  const bad = await loop.requestPass('manual', 'after a bad edit');
  assert.equal(bad.stats.total, 1, 'the pass still reconciles misc/greet');
  const cfg = loop.status().config;
  assert.equal(cfg.errors.length, 1);
  assert.equal(cfg.errors[0]!.line, 14, 'the workers: line');
  assert.match(cfg.errorText[0]!, new RegExp(`^${file.replaceAll('.', '\\.')}:14:\\d+: .*workers`));
  assert.ok(lines.some((l) => l.includes('keeping the last good desired state')));
  writeFileSync(file, yaml());
  await loop.requestPass('manual', 'after the fix');
  assert.deepEqual(loop.status().config.errors, []);
});

test('a pass failing on its environment is retried with backoff until it succeeds', { timeout: 60_000 }, async (t) => {
  if (!bmake) return t.skip('bmake is not installed: passes read the ports tree with bmake');
  const { loop, dir, runs } = await setup(t);
  await loop.requestPass('manual', 'good');
  renameSync(join(dir, 'ports'), join(dir, 'ports.away'));
  await assert.rejects(loop.requestPass('manual', 'tree gone'));
  const st = loop.status();
  assert.ok(st.lastError, 'the failure is reported');
  assert.equal(st.lastError.kind, 'transient', 'a missing tree is the environment: retried');
  assert.equal(st.retry?.attempt, 1);
  renameSync(join(dir, 'ports.away'), join(dir, 'ports'));
  await waitFor(
    'the retry to succeed',
    () => loop.status().lastError === null && loop.status().retry === null && loop.status().current === null,
  );
  assert.equal(loop.status().lastPass?.status, 'success');
  assert.equal(await runs(), 2);
  await loop.stop();
  await assert.rejects(loop.requestPass('manual', 'after stop'), LoopStoppedError);
});

test(
  'a pass that needs the user (commit mode, a branch that does not exist) is stalled: shown, not retried, until a request after the fix',
  { timeout: 60_000 },
  async (t) => {
    if (!bmake) return t.skip('bmake is not installed: passes read the ports tree with bmake');
    let dir = '';
    const git = (...args: string[]) => {
      const r = spawnSync('git', args, {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
      });
      assert.equal(r.status, 0, r.stderr);
    };
    const { loop, lines } = await setup(t, {
      text: yaml().replace('  path: ports', '  path: ports\n  source: commit\n  branch: release'),
      backoff: { initialMs: 100, maxMs: 200 },
      prepare: (d) => {
        dir = d;
        writeFileSync(join(d, '.gitignore'), '.portsync/\n');
        git('init', '-q', '-b', 'main');
        git('add', '-A');
        git('commit', '-qm', 'initial');
      },
    });
    await assert.rejects(loop.requestPass('manual', 'branch missing'), CommitSourceError);
    const st = loop.status();
    assert.equal(st.lastError?.kind, 'stalled');
    assert.match(st.lastError!.message, /branch "release" does not exist/);
    assert.equal(st.retry, null, 'no retry is scheduled');
    assert.ok(
      lines.some((l) => l.includes('stalled') && l.includes('needs a change from you')),
      lines.join('\n'),
    );
    await new Promise((r) => setTimeout(r, 700)); // several backoff periods
    assert.equal(loop.status().passes, 1, 'a stalled pass is not retried');
    git('branch', 'release');
    const ok = await loop.requestPass('manual', 'branch created');
    assert.equal(ok.status, 'success');
    assert.equal(loop.status().lastError, null);
  },
);

test('failures are classified by what the loop must do: stalled (the user), transient (environment), bug (ours)', () => {
  assert.equal(classifyPassError(new ConfigError('/p/builds.yaml', [])), 'stalled');
  assert.equal(classifyPassError(new CommitSourceError('/repo', 'branch "x" does not exist')), 'stalled');
  assert.equal(classifyPassError(new CommitSourceError('/repo', 'cannot check out', { transient: true })), 'transient');
  assert.equal(classifyPassError(Object.assign(new Error('ENOSPC'), { code: 'ENOSPC', syscall: 'write', path: '/x' })), 'transient');
  assert.equal(classifyPassError(new TypeError("Cannot read properties of undefined (reading 'meta')")), 'bug');
});
