/**
 * Early cutoff with real builds of the example tree (chroot workers, root): dependents follow
 * what a dependency produced — its package's identity — not its inputs; and build keys hold no
 * host path, so a project copied elsewhere rebuilds nothing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildDB } from '../src/builddb/db.js';
import { planJson } from '../src/reconcile/result-json.js';
import { loadDesiredState } from '../src/config/load.js';
import { knownFromRows } from '../src/reconcile/known.js';
import { observe } from '../src/reconcile/observe.js';
import { makePlan } from '../src/reconcile/plan.js';
import { bmakeMissing } from './helpers/minitree.js';
import { REPO, TestProject, rootMissing } from './helpers/project.js';

const skip = bmakeMissing() ?? rootMissing();
const cleanup: (() => void)[] = [];
after(() => cleanup.forEach((f) => f()));
const project = (ports: string[], extra?: string) => {
  const p = new TestProject({ ports, ...(extra ? { extra } : {}) });
  cleanup.push(() => p.remove());
  return p;
};

/** `portsync plan --json` for a project's builds.yaml, computed in this process. */
async function planOf(config: string) {
  const state = await loadDesiredState(config);
  const db = await BuildDB.open(state.paths.database, { readOnly: true });
  try {
    const plan = makePlan(await observe(state), { known: knownFromRows(await db.allPortState()) });
    return planJson(plan);
  } finally {
    await db.close();
  }
}

const statusOf = (r: { ports: { origin: string; status: string }[] }) => Object.fromEntries(r.ports.map((x) => [x.origin, x.status]));
const actionOf = (j: Awaited<ReturnType<typeof planOf>>) => Object.fromEntries(j.ports.map((x) => [x.origin, x.action]));

test('a comment in devel/libalpha rebuilds libalpha only: libbeta and textproc/gamma are pending, then cut off', { skip }, async () => {
  const p = project(['textproc/gamma']);
  const first = await p.pass();
  assert.deepEqual(Object.values(statusOf(first)), ['success', 'success', 'success']);
  const [alpha1] = await p.query<{ pkg_identity: string; pkg_checksum: string; pkg_shlibs: string }>(
    "SELECT * FROM port_state WHERE origin = 'devel/libalpha'",
  );
  assert.match(alpha1!.pkg_identity, /^[0-9a-f]{64}$/);
  assert.match(alpha1!.pkg_checksum, /^[0-9a-f]{64}$/);
  assert.ok(
    JSON.parse(alpha1!.pkg_shlibs).some((l: string) => /^libalpha\.so/.test(l)),
    alpha1!.pkg_shlibs,
  );

  p.append('devel/libalpha/Makefile', '# a comment, nothing else\n');
  const plan = await planOf(p.config);
  assert.deepEqual(actionOf(plan), { 'devel/libalpha': 'build', 'devel/libbeta': 'pending', 'textproc/gamma': 'pending' });
  assert.equal(plan.summary.pending, 2);
  assert.equal(plan.summary.build, 1);
  const beta = plan.ports.find((x) => x.origin === 'devel/libbeta')!;
  assert.deepEqual(beta.reasons, [
    { kind: 'pending', detail: "rebuilds only if devel/libalpha's package changes", items: ['devel/libalpha'] },
  ]);
  assert.equal(beta.pkgfile, 'libbeta-0.9_1.tgz');

  const r = await p.pass();
  assert.deepEqual(statusOf(r), { 'devel/libalpha': 'success', 'devel/libbeta': 'skipped', 'textproc/gamma': 'skipped' });
  assert.equal(r.stats.cutoff, 2);
  assert.equal(r.stats.skipped, 2);
  assert.match(r.ports.find((x) => x.origin === 'devel/libbeta')!.reason, /^cutoff: devel\/libalpha rebuilt, package identical$/);
  assert.match(r.ports.find((x) => x.origin === 'textproc/gamma')!.reason, /^cutoff: devel\/libbeta/);
  assert.ok(r.lines.includes('devel/libbeta@0.9_1 (skipped: devel/libalpha rebuilt, package identical)'), r.lines.join('\n'));
  const [run] = await p.query<{ cutoff: number; skipped: number; success: number }>(
    'SELECT cutoff, skipped, success FROM runs ORDER BY started_at DESC LIMIT 1',
  );
  assert.deepEqual({ ...run }, { cutoff: 2, skipped: 2, success: 1 });
  const ids = await p.query<{ pkg_identity: string }>(
    "SELECT pkg_identity FROM builds WHERE origin = 'devel/libalpha' AND status = 'success'",
  );
  assert.equal(ids.length, 2);
  assert.equal(ids[0]!.pkg_identity, ids[1]!.pkg_identity, 'the rebuilt package has the same identity (reproducible packages)');
  assert.equal((await p.query("SELECT * FROM builds WHERE origin <> 'devel/libalpha'")).length, 2, 'no dependent was built again');

  // why says why libbeta did not rebuild although libalpha did.
  const why = spawnSync(process.execPath, [join(REPO, 'bin/portsync.js'), '--config', p.config, 'why', 'devel/libbeta'], {
    encoding: 'utf8',
  });
  assert.equal(why.status, 0, why.stderr);
  assert.match(why.stdout, /^devel\/libbeta is up to date/);
  assert.match(
    why.stdout,
    /cutoff: dependency devel\/libalpha was rebuilt \(or its inputs changed\) since this port's last build, but its package is identical: not a reason to rebuild/,
  );

  // The next plan is quiet: nothing pending, nothing to build.
  const after = await planOf(p.config);
  assert.deepEqual(after.summary, { total: 3, build: 0, skip: 3, pending: 0, ignored: 0, blocked: 0, prune: 0 });
});

test('a real code change in libalpha rebuilds what links it; the cascade stops where a package comes out the same', { skip }, async () => {
  const p = project(['textproc/gamma']);
  await p.pass();
  p.write('devel/libalpha/files/patch-alpha.c', p.read('devel/libalpha/files/patch-alpha.c').replace('+\treturn 42;', '+\treturn 43;'));
  const r = await p.pass();
  const s = statusOf(r);
  assert.equal(s['devel/libalpha'], 'success');
  assert.equal(s['devel/libbeta'], 'success', "libalpha's package changed: its dependent is rebuilt");
  assert.match(
    r.ports.find((x) => x.origin === 'devel/libbeta')!.reason,
    /dependency-changed: dependency devel\/libalpha package changed \([0-9a-f]{12} -> [0-9a-f]{12}\)/,
  );
  // libbeta links libalpha dynamically: its own package is identical, so gamma above it is cut off.
  assert.equal(s['textproc/gamma'], 'skipped');
  assert.match(r.ports.find((x) => x.origin === 'textproc/gamma')!.reason, /^cutoff: devel\/libbeta rebuilt, package identical/);
});

test(
  'policy.cascade: version — a rebuilt LIB_DEPENDS waits for its shared libraries; none — dependents never follow',
  { skip },
  async () => {
    const v = project(['textproc/gamma'], 'policy: { cascade: version }');
    await v.pass();
    v.append('devel/libalpha/Makefile', '# comment\n');
    const plan = await planOf(v.config);
    assert.deepEqual(actionOf(plan), { 'devel/libalpha': 'build', 'devel/libbeta': 'pending', 'textproc/gamma': 'pending' });
    assert.match(plan.ports.find((x) => x.origin === 'devel/libbeta')!.reasons[0]!.detail, /shared libraries of devel\/libalpha/);
    const r = await v.pass();
    assert.deepEqual(statusOf(r), { 'devel/libalpha': 'success', 'devel/libbeta': 'skipped', 'textproc/gamma': 'skipped' });
    // A version bump (PORTREVISION) of libalpha is what version-cascade rebuilds dependents for.
    v.append('devel/libalpha/Makefile', 'PORTREVISION=\t1\n');
    const bumped = await planOf(v.config);
    assert.equal(actionOf(bumped)['devel/libbeta'], 'build');
    assert.match(
      bumped.ports.find((x) => x.origin === 'devel/libbeta')!.reasons[0]!.detail,
      /dependency devel\/libalpha version changed \(1\.2\.0 -> 1\.2\.0_1\)/,
    );

    const n = project(['textproc/gamma'], 'policy: { cascade: none }');
    await n.pass();
    n.write('devel/libalpha/files/patch-alpha.c', n.read('devel/libalpha/files/patch-alpha.c').replace('+\treturn 42;', '+\treturn 44;'));
    assert.deepEqual(actionOf(await planOf(n.config)), { 'devel/libalpha': 'build', 'devel/libbeta': 'skip', 'textproc/gamma': 'skip' });
  },
);

test('keys hold no host path: a built project copied elsewhere plans nothing to build', { skip }, async () => {
  const p = project(['textproc/gamma', 'misc/help2man']);
  const first = await p.pass();
  assert.equal(first.status, 'success');
  const elsewhere = mkdtempSync(join(tmpdir(), 'portsync-moved-'));
  cleanup.push(() => rmSync(elsewhere, { recursive: true, force: true }));
  const moved = join(elsewhere, 'deeper', 'project');
  cpSync(p.dir, moved, { recursive: true });
  const plan = await planOf(join(moved, 'builds.yaml'));
  assert.deepEqual(
    plan.summary,
    { total: 4, build: 0, skip: 4, pending: 0, ignored: 0, blocked: 0, prune: 0 },
    JSON.stringify(
      plan.ports.filter((x) => x.action !== 'skip'),
      null,
      1,
    ),
  );
  // The key's environment names the framework directory by its place in the tree, not on this host.
  const [row] = await p.query<{ key_parts: string }>("SELECT key_parts FROM port_state WHERE origin = 'misc/help2man'");
  assert.ok(!row!.key_parts.includes(p.dir), `a host path in the key parts: ${row!.key_parts}`);
  assert.ok(row!.key_parts.includes('@tree/Mk'), row!.key_parts);
});
