/**
 * `status` as desired versus actual: every port of the desired state in sync / drifted / pending /
 * building / failed (phase, log) / blocked (by what) / ignored / suspended, plus orphans — from the
 * CLI without a daemon (a plan made here) and from the daemon's GET /status (its passes), with an
 * ETA from recorded build times while a pass builds. Real builds (host backend), a real daemon.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemonRequest } from '../src/client/request.js';
import type { DesiredPort } from '../src/server/desired.js';
import { passEta } from '../src/server/eta.js';
import type { StatusJson } from '../src/server/status.js';
import { bmakeMissing } from './helpers/minitree.js';
import { runNamed as run } from './helpers/cli.js';
import { TestProject } from './helpers/project.js';
import { startDaemon } from './sql-helpers.js';

const skip = bmakeMissing();
const projects: TestProject[] = [];
after(() => {
  for (const p of projects) p.remove();
});

const byOrigin = (s: StatusJson) => new Map((s.desired?.ports ?? []).map((p) => [p.origin, p]));
const BROKEN_PATCH = '--- nope.c.orig\n+++ nope.c\n@@ -1 +1 @@\n-a\n+b\n';

test('ETA: medians of each port, the overall median for ports never built, shared by the workers', () => {
  const d = {
    byOrigin: new Map([
      ['a/one', 10_000],
      ['a/two', 4_000],
    ]),
    overall: 6_000,
  };
  const now = Date.parse('2026-01-01T00:00:00Z');
  const eta = passEta(['a/one', 'a/new'], [{ origin: 'a/two', since: new Date(now - 1_000).toISOString() }], d, 2, now);
  // (10 s + 6 s + (4 s - 1 s elapsed)) / 2 workers
  assert.deepEqual(eta, { remainingMs: 9_500, finishAt: '2026-01-01T00:00:09.500Z', ports: 3, fromOwnHistory: 2, workers: 2 });
  assert.equal(passEta(['a/new'], [], { byOrigin: new Map(), overall: null }, 2, now), null, 'no build times recorded: no estimate');
});

test('status: each desired port against what is built, orphans; without and with the daemon', { skip }, async (t) => {
  const p = new TestProject({
    ports: ['textproc/gamma', 'misc/greet', 'misc/ancient', { origin: 'misc/help2man', suspend: true }],
    backend: 'host',
  });
  projects.push(p);
  p.write('devel/libalpha/files/patch-zz-broken', BROKEN_PATCH);
  const first = await p.pass();
  assert.deepEqual([first.stats.success, first.stats.failed], [1, 1], first.lines.join('\n'));
  writeFileSync(join(p.packages, 'stray-1.0.tgz'), 'no port makes this');
  p.append('misc/greet/Makefile', '# drifted\n');

  const r = await run('status', p.config, ['--json']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out) as StatusJson;
  const d = byOrigin(s);
  const state = (o: string) => d.get(o)?.state;
  assert.deepEqual(['devel/libalpha', 'devel/libbeta', 'textproc/gamma', 'misc/greet', 'misc/ancient', 'misc/help2man'].map(state), [
    'failed',
    'blocked',
    'blocked',
    'drifted',
    'ignored',
    'suspended',
  ]);
  const failed = d.get('devel/libalpha') as DesiredPort;
  assert.equal(failed.phase, 'patch');
  assert.ok(failed.log && existsSync(failed.log), `the failed build's log: ${failed.log}`);
  assert.deepEqual(d.get('devel/libbeta')?.blockedBy, ['devel/libalpha']);
  assert.match(d.get('textproc/gamma')!.detail, /devel\/libalpha/);
  assert.match(d.get('misc/greet')!.detail, /port CRC [0-9a-f]+ -> [0-9a-f]+/);
  assert.deepEqual(
    s.desired?.orphans.map((o) => o.pkgfile),
    ['stray-1.0.tgz'],
  );
  assert.deepEqual(s.desired?.summary, {
    'in-sync': 0,
    drifted: 1,
    pending: 0,
    building: 0,
    failed: 1,
    blocked: 2,
    ignored: 1,
    suspended: 1,
    total: 6,
    orphans: 1,
  });
  assert.equal(s.ports.find((x) => x.origin === 'misc/greet')?.lastStatus, 'success', 'the recorded builds are still there');

  const text = (await run('status', p.config, ['--wide'])).out;
  assert.match(text, /desired state: 6 ports: 0 in sync, 1 drifted, 0 pending, 0 building, 1 failed, 2 blocked, 1 ignored, 1 suspended/);
  assert.match(text, /│ devel\/libalpha\s+│ 1\.2\.0\s+│ failed\s+│ failed\s+│ in patch; log \//);
  assert.match(text, /│ devel\/libbeta\s+│ 0\.9_1\s+│\s+│ blocked\s+│ by devel\/libalpha: failed at these inputs/);
  assert.match(text, /│ textproc\/gamma\s+│ 2\.1\s+│\s+│ blocked\s+│ by devel\/libbeta \(devel\/libalpha: failed at these inputs/);
  assert.match(
    text,
    /orphans: 1 packages of no desired port \(policy\.prune: true removes them\):\n {2}stray-1\.0\.tgz: no port of the desired state makes it/,
  );
  const one = JSON.parse((await run('status', p.config, ['--json', 'devel/libbeta'])).out) as StatusJson;
  assert.deepEqual(
    one.desired?.ports.map((x) => x.origin),
    ['devel/libbeta'],
  );

  // The daemon: its first pass builds greet; its status is that pass's.
  p.append('misc/greet/Makefile', 'post-build:\n\t@sleep 4\n');
  const daemon = await startDaemon(t, p.config);
  const status = async () => (await daemonRequest(daemon.socket, 'GET', '/status'))!.body as StatusJson;
  const until = async (what: string, ok: (s: StatusJson) => boolean) => {
    const end = Date.now() + 60_000;
    for (;;) {
      const s = await status();
      if (ok(s)) return s;
      if (Date.now() > end) throw new Error(`the daemon's status never showed ${what}:\n${daemon.log()}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  };
  const building = await until('misc/greet building, with an ETA', (s) => byOrigin(s).get('misc/greet')?.state === 'building' && !!s.eta);
  assert.equal(building.desired?.basis, 'pass');
  assert.ok(building.eta, 'an ETA while the pass builds');
  assert.equal(building.eta.ports, 1);
  assert.equal(building.eta.fromOwnHistory, 1, 'greet was built before: its own time');
  assert.ok(building.eta.remainingMs >= 0 && Date.parse(building.eta.finishAt) > 0);
  const done = await until('the pass ended', (s) => s.current === null && byOrigin(s).get('misc/greet')?.state === 'in-sync');
  assert.equal(byOrigin(done).get('devel/libalpha')?.state, 'failed');
  assert.equal(byOrigin(done).get('devel/libalpha')?.phase, 'patch');
  assert.equal(byOrigin(done).get('textproc/gamma')?.state, 'blocked');
  assert.deepEqual(
    done.desired?.orphans.map((o) => o.pkgfile),
    ['stray-1.0.tgz'],
  );
  assert.equal(done.eta, null, 'no pass running: no ETA');
  const brief = (await daemonRequest(daemon.socket, 'GET', '/status?ports=none'))!.body as StatusJson;
  assert.deepEqual([brief.desired?.ports.length, brief.desired?.summary.total], [0, 6]);
  const viaCli = (await run('status', p.config, [])).out;
  assert.match(viaCli, /desired state: 6 ports: 1 in sync, 0 drifted.*\(as of the daemon's current or last pass\)/);
});
