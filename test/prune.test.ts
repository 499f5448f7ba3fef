/**
 * policy.prune: plan lists the packages of no desired port (action prune, summary.prune), a pass
 * removes them from the repository and records them in pruned_packages; a desired port's package,
 * its dependencies', a suspended port's and the last good package of a port whose new one is not
 * in yet are never pruned. Real builds of the example tree (host backend), real files, real DuckDB.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { orphanPackages } from '../src/reconcile/orphans.js';
import { plannedPrune } from '../src/reconcile/prune.js';
import { bmakeMissing } from './helpers/minitree.js';
import { runNamed as run } from './helpers/cli.js';
import { TestProject } from './helpers/project.js';

const skip = bmakeMissing();
const projects: TestProject[] = [];
after(() => {
  for (const p of projects) p.remove();
});

type PlanPort = { origin: string | null; action: string; pkgfile: string; reasons: { kind: string; detail: string }[] };
const pruned = (plan: { ports: PlanPort[] }) => plan.ports.filter((p) => p.action === 'prune');

test('orphans: current packages of the closure are kept, and a recorded one while its replacement is missing or the port is suspended', () => {
  const files = ['a-1.0.tgz', 'a-0.9.tgz', 'b-2.0.tgz', 'c-1.0.tgz', 'd-1.0.tgz', 'stray-1.tgz', '.being-written.tmp'];
  const closure = [
    { origin: 'x/a', pkgfile: 'a-1.0.tgz' },
    { origin: 'x/b', pkgfile: 'b-2.1.tgz' }, // new version not built yet: b-2.0 stays
    { origin: 'x/d', pkgfile: 'd-1.1.tgz', suspended: true },
  ];
  const recorded = [
    { origin: 'x/a', pkgfile: 'a-1.0.tgz', version: '1.0' },
    { origin: 'x/b', pkgfile: 'b-2.0.tgz', version: '2.0' },
    { origin: 'x/c', pkgfile: 'c-1.0.tgz', version: '1.0' },
    { origin: 'x/d', pkgfile: 'd-1.0.tgz', version: '1.0' },
  ];
  const o = orphanPackages(files, closure, recorded);
  assert.deepEqual(
    o.map((x) => [x.pkgfile, x.origin]),
    [
      ['a-0.9.tgz', 'x/a'],
      ['c-1.0.tgz', 'x/c'],
      ['stray-1.tgz', null],
    ],
  );
  assert.match(o[0]!.reason, /older package of x\/a \(its package is now a-1\.0\.tgz\)/);
  assert.match(o[1]!.reason, /x\/c is no longer in the desired state/);
  assert.equal(o[0]!.pkgname, 'a-0.9');
  assert.deepEqual(plannedPrune(files, [], new Map()), [], 'an empty closure prunes nothing (a misread tree is not "remove everything")');
});

test('prune: plan lists the orphans, a pass removes and records them, never what a desired port needs', { skip }, async () => {
  const p = new TestProject({
    ports: ['textproc/gamma', 'misc/greet', 'misc/help2man'],
    backend: 'host',
    extra: 'policy: { prune: true }',
  });
  projects.push(p);
  const first = await p.pass();
  assert.equal(first.stats.success, 5, first.lines.join('\n'));
  writeFileSync(join(p.packages, 'stray-1.0.tgz'), 'a package no port makes');
  writeFileSync(join(p.packages, '.partial.tmp'), 'being written');

  // greet leaves the desired state; help2man stays, suspended.
  p.writeConfig({
    ports: ['textproc/gamma', { origin: 'misc/help2man', suspend: true }],
    backend: 'host',
    extra: 'policy: { prune: true }',
  });
  const plan = await run('plan', p.config, ['--json']);
  assert.equal(plan.code, 1, 'something to prune is work to do');
  const pj = JSON.parse(plan.out);
  assert.deepEqual(
    pruned(pj).map((x: PlanPort) => [x.pkgfile, x.origin]),
    [
      ['greet-1.0.tgz', 'misc/greet'],
      ['stray-1.0.tgz', null],
    ],
  );
  assert.equal(pj.summary.prune, 2);
  assert.equal(pj.summary.total, 4, 'packages to prune are not ports');
  assert.match(pruned(pj)[0]!.reasons[0]!.detail, /misc\/greet is no longer in the desired state/);
  const text = await run('plan', p.config, []);
  assert.match(text.out, /^prune {3}greet-1\.0\.tgz \(misc\/greet\) — misc\/greet is no longer in the desired state$/m);
  assert.match(text.out, /; 2 packages to prune$/m);

  // Without policy.prune nothing is pruned.
  p.writeConfig({ ports: ['textproc/gamma', { origin: 'misc/help2man', suspend: true }], backend: 'host' });
  const off = JSON.parse((await run('plan', p.config, ['--json'])).out);
  assert.deepEqual([off.summary.prune, pruned(off).length], [0, 0]);
  const passOff = await p.pass();
  assert.equal(passOff.pruned, undefined);
  assert.ok(existsSync(join(p.packages, 'greet-1.0.tgz')));

  p.writeConfig({
    ports: ['textproc/gamma', { origin: 'misc/help2man', suspend: true }],
    backend: 'host',
    extra: 'policy: { prune: true }',
  });
  const r = await p.pass();
  assert.deepEqual(
    r.pruned?.map((x) => x.pkgfile),
    ['greet-1.0.tgz', 'stray-1.0.tgz'],
  );
  assert.ok(
    r.lines.some((l) => l === 'pruned greet-1.0.tgz: misc/greet is no longer in the desired state'),
    r.lines.join('\n'),
  );
  assert.deepEqual(readdirSync(p.packages).sort(), [
    '.partial.tmp',
    'gamma-2.1.tgz',
    'help2man-1.49.3.tgz',
    'libalpha-1.2.0.tgz',
    'libbeta-0.9_1.tgz',
  ]);
  const rows = await p.query<{ pkgfile: string; origin: string | null; run_id: string }>(
    'SELECT pkgfile, origin, run_id::VARCHAR AS run_id FROM pruned_packages ORDER BY pkgfile',
  );
  assert.deepEqual(rows, [
    { pkgfile: 'greet-1.0.tgz', origin: 'misc/greet', run_id: r.runId },
    { pkgfile: 'stray-1.0.tgz', origin: null, run_id: r.runId },
  ]);
  assert.equal((await run('plan', p.config, [])).code, 0, 'in sync: nothing left to prune');

  // A new version: the old package stays until the new one is in, then it is an orphan.
  p.append('devel/libalpha/Makefile', 'PORTREVISION=\t1\n');
  const bump = JSON.parse((await run('plan', p.config, ['--json'])).out);
  assert.deepEqual(pruned(bump), [], 'libalpha-1.2.0 is kept while libalpha-1.2.0_1 is not built');
  const built = await p.pass();
  assert.ok(built.stats.success >= 1, built.lines.join('\n'));
  const after = JSON.parse((await run('plan', p.config, ['--json'])).out);
  assert.deepEqual(
    pruned(after).map((x: PlanPort) => [x.pkgfile, x.origin]),
    [['libalpha-1.2.0.tgz', 'devel/libalpha']],
  );
  assert.match(pruned(after)[0]!.reasons[0]!.detail, /older package of devel\/libalpha \(its package is now libalpha-1\.2\.0_1\.tgz\)/);
  await p.pass();
  assert.ok(!existsSync(join(p.packages, 'libalpha-1.2.0.tgz')) && existsSync(join(p.packages, 'libalpha-1.2.0_1.tgz')));

  // A plan of some origins, or a desired state that selects nothing, prunes nothing.
  const some = JSON.parse((await run('plan', p.config, ['--json', 'devel/libalpha'])).out);
  assert.equal(some.summary.prune, 0);
  p.writeConfig({ ports: ['nosuch/*'], backend: 'host', extra: 'policy: { prune: true }' });
  const none = JSON.parse((await run('plan', p.config, ['--json'])).out);
  assert.equal(none.summary.prune, 0);
});
