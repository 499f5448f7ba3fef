/** `portsync status` without a daemon: from the database read-only, or empty before the first reconcile. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { run, seed, tempProject } from './sql-helpers.js';

test('status before any reconcile: no daemon, no ports, exit 0', async (t) => {
  const p = await tempProject(t, 'portsync-status-');
  const r = await run('status', p.configFile, ['--json']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.equal(s.daemon, null);
  assert.deepEqual(s.ports, []);
  assert.equal(s.lastRun, null);
  const text = await run('status', p.configFile, []);
  // (misc/greet is not in this project's tree: it is blocked, and there is no build yet.)
  assert.match(text.out, /daemon: not running\nlast run: none recorded\ndesired state: 1 ports: 0 in sync, .*1 blocked/);
  assert.match(text.out, /│ misc\/greet\s+│\s+│\s+│ blocked/);
  const h = await run('history', p.configFile, ['misc/greet', '--json']);
  assert.deepEqual(JSON.parse(h.out).builds, []);
});

test('status shows per-port last builds and the last run; ORIGIN narrows it', async (t) => {
  const p = await tempProject(t, 'portsync-status-');
  await seed(p.database);
  const s = JSON.parse((await run('status', p.configFile, ['--json'])).out);
  assert.deepEqual(
    s.ports.map((x: { origin: string; lastStatus: string }) => [x.origin, x.lastStatus]),
    [
      ['math/numbase', 'success'],
      ['misc/greet', 'success'],
    ],
  );
  assert.equal(s.lastRun.status, 'failed');
  assert.equal(s.lastRun.gitCommit, 'abc123');
  const one = JSON.parse((await run('status', p.configFile, ['--json', 'misc/greet'])).out);
  assert.deepEqual(
    one.ports.map((x: { origin: string }) => x.origin),
    ['misc/greet'],
  );
  const text = (await run('status', p.configFile, [])).out;
  assert.match(text, /last run: \S+ failed \(manual at abc123\)/);
  assert.match(text, /│ misc\/greet\s+│ 1\.0\s+│ success/);
});

test('status with an invalid builds.yaml still answers and lists its errors as FILE:LINE:COL', async (t) => {
  const p = await tempProject(t, 'portsync-status-');
  await seed(p.database);
  writeFileSync(p.configFile, 'portsTree:\n  path: ports\nworkers: zero\nports:\n  - misc/greet\n');
  const r = await run('status', p.configFile, ['--json']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.equal(s.config.errors.length, 1);
  assert.match(s.config.errorText[0], new RegExp(`^${p.configFile.replaceAll('.', '\\.')}:3:\\d+: .*workers`));
  assert.equal(s.ports.length, 2, 'the database is still found');
});
