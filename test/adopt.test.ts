/**
 * `portsync adopt`: a repository built elsewhere (here: by a real pass of another project on the
 * same tree) is recorded as built, in one run of trigger `adopt`, so that plan builds nothing;
 * package identities are recorded (early cutoff works on adopted ports); missing and unreadable
 * packages, and packages of no desired port, are reported.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bmakeMissing } from './helpers/minitree.js';
import { rootMissing, TestProject } from './helpers/project.js';
import { runNamed as run } from './helpers/cli.js';

const PORTS = ['textproc/gamma', 'misc/greet'];
const skip = bmakeMissing();
// Early cutoff needs packages that rebuild identically: chroot builds do (fixed paths), host builds
// embed their worker directory's random name.
const noRoot = rootMissing();
const backend = noRoot ? 'host' : 'chroot';
let built: TestProject;
const projects: TestProject[] = [];

/** A fresh project on the same tree whose repository holds `built`'s packages, minus `without`. */
function switchedProject(without: string[] = []): TestProject {
  const p = new TestProject({ ports: PORTS, backend: 'host' });
  projects.push(p);
  mkdirSync(p.packages, { recursive: true });
  for (const f of readdirSync(built.packages))
    if (!without.some((w) => f.startsWith(w))) copyFileSync(join(built.packages, f), join(p.packages, f));
  return p;
}

before(async () => {
  if (skip) return;
  built = new TestProject({ ports: PORTS, backend });
  const r = await built.pass();
  assert.equal(r.stats.success, 4, r.lines.join('\n'));
});
after(() => {
  built?.remove();
  for (const p of projects) p.remove();
});

test('adopt: a missing package is reported and what depends on it is not adopted; ORIGIN narrows it', { skip }, async () => {
  const p = switchedProject(['libalpha-']);
  const only = JSON.parse((await run('adopt', p.config, ['--json', 'misc/greet'])).out);
  assert.deepEqual(
    only.adopted.map((a: { origin: string }) => a.origin),
    ['misc/greet'],
  );
  const r = JSON.parse((await run('adopt', p.config, ['--json'])).out);
  assert.deepEqual(r.adopted, []);
  assert.deepEqual(r.inSync, ['misc/greet']);
  assert.deepEqual(
    r.noPackage.map((x: { origin: string }) => x.origin),
    ['devel/libalpha'],
  );
  assert.deepEqual(r.notAdopted.map((x: { origin: string }) => x.origin).sort(), ['devel/libbeta', 'textproc/gamma']);
  assert.match(r.notAdopted.find((x: { origin: string }) => x.origin === 'devel/libbeta').reason, /devel\/libalpha is not adopted/);
  const plan = JSON.parse((await run('plan', p.config, ['--json'])).out);
  assert.deepEqual(
    plan.ports
      .filter((x: { action: string }) => x.action === 'build')
      .map((x: { origin: string }) => x.origin)
      .sort(),
    ['devel/libalpha', 'devel/libbeta', 'textproc/gamma'],
  );
  const bad = await run('adopt', p.config, ['misc/nosuchport']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /misc\/nosuchport is not in the closure/);
});

test('adopt: an unreadable package stops it before anything is recorded, naming the file', { skip }, async () => {
  const p = switchedProject();
  const libbeta = readdirSync(p.packages).find((f) => f.startsWith('libbeta-'))!;
  writeFileSync(join(p.packages, libbeta), 'not a package at all\n');
  const r = await run('adopt', p.config, []);
  assert.equal(r.code, 2, r.out);
  assert.match(r.err, new RegExp(`cannot read package .*${libbeta.replaceAll('.', '\\.')}: .*remove it`));
  assert.deepEqual(await p.query('SELECT * FROM runs'), []);
  assert.deepEqual(await p.query('SELECT * FROM port_state'), []);
});

test('adopt records every present package as built; plan then builds nothing; orphans are reported', { skip }, async (t) => {
  // The building project itself, its database gone: the packages are exactly what its builds make
  // (host builds embed the project's path), so a rebuild shows whether early cutoff works.
  const p = built;
  const theirs = await built.query<{ origin: string; pkg_identity: string }>('SELECT origin, pkg_identity FROM port_state ORDER BY origin');
  rmSync(p.database, { force: true });
  rmSync(`${p.database}.wal`, { force: true });
  cpSync(join(built.packages, 'greet-1.0.tgz'), join(p.packages, 'oldtool-0.1.tgz'));
  const before = await run('plan', p.config, ['--json']);
  assert.equal(before.code, 1, 'without a database everything is to build');

  const r = await run('adopt', p.config, ['--json']);
  assert.equal(r.code, 0, r.err);
  const report = JSON.parse(r.out);
  assert.deepEqual(report.adopted.map((a: { origin: string }) => a.origin).sort(), [
    'devel/libalpha',
    'devel/libbeta',
    'misc/greet',
    'textproc/gamma',
  ]);
  assert.deepEqual(report.noPackage, []);
  assert.deepEqual(
    report.orphans.map((o: { pkgfile: string }) => o.pkgfile),
    ['oldtool-0.1.tgz'],
  );
  assert.match(report.orphans[0].reason, /no port of the desired state/);

  const plan = await run('plan', p.config, ['--json']);
  assert.equal(plan.code, 0, plan.out);
  const pj = JSON.parse(plan.out);
  assert.deepEqual([pj.summary.build, pj.summary.pending, pj.summary.skip], [0, 0, 4]);
  assert.ok(
    pj.ports.every((x: { pkgfile: string | null }) => typeof x.pkgfile === 'string' && x.pkgfile.endsWith('.tgz')),
    'plan --json ports carry pkgfile',
  );

  const runs = await p.query<{ trigger: string; status: string; success: number; run_id: string }>(
    'SELECT trigger, status, success, run_id::VARCHAR AS run_id FROM runs',
  );
  assert.deepEqual(
    runs.map((x) => [x.trigger, x.status, x.success]),
    [['adopt', 'success', 4]],
  );
  assert.equal(runs[0]!.run_id, report.runId);
  const builds = await p.query<{ n: number }>(
    `SELECT count(*)::INTEGER AS n FROM builds WHERE reason LIKE 'adopted%' AND status = 'success' AND duration_ms IS NULL`,
  );
  assert.equal(builds[0]!.n, 4);
  // The identities are those of the packages, as the building project recorded them.
  const mine = await p.query<{ origin: string; pkg_identity: string }>('SELECT origin, pkg_identity FROM port_state ORDER BY origin');
  assert.deepEqual(mine, theirs);

  const text = await run('adopt', p.config, []);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /adopt: 0 ports adopted, 4 already up to date, 0 without a package/);
  assert.equal((await p.query('SELECT * FROM runs')).length, 1, 'nothing adopted: no second run');

  // Early cutoff on an adopted dependency: libbeta rebuilds to the same package, gamma is not rebuilt.
  if (noRoot) return t.diagnostic(`early cutoff after adopt not checked: ${noRoot}`);
  p.append('devel/libbeta/Makefile', '# a comment\n');
  const pass = await p.pass();
  assert.equal(pass.stats.success, 1, pass.lines.join('\n'));
  assert.equal(pass.stats.cutoff, 1, pass.lines.join('\n'));
});
