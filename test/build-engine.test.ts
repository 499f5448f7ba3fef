/**
 * The build engine for real: the example tree built in chroot workers (root), records in a
 * real DuckDB file, packages in a real repository.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupSupport } from '../src/builder/sandbox/cgroup.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject, rootMissing } from './helpers/project.js';

const skip = bmakeMissing() ?? rootMissing();
const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));
const project = (ports: string[], workers = 2, extra?: string) => {
  const p = new TestProject({ ports, workers, ...(extra ? { extra } : {}) });
  projects.push(p);
  return p;
};

interface BuildRec {
  build_id: string;
  origin: string;
  status: string;
  crc: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  last_phase: string;
  peak_memory_bytes: number | null;
  cpu_ms: number | null;
}
interface StateRec {
  origin: string;
  crc: string;
  build_key: string;
  build_id: string;
  version: string;
  pkgfile: string;
}

test('one port: build, skip, rebuild on a change, keep the last good state on a failure', { skip }, async () => {
  const p = project(['misc/help2man']);

  // 1. First build.
  const first = await p.pass();
  assert.equal(first.status, 'success');
  assert.deepEqual(
    { ...first.stats, durationMs: 0 },
    { total: 1, success: 1, failed: 0, skipped: 0, ignored: 0, blocked: 0, interrupted: 0, cutoff: 0, durationMs: 0 },
  );
  const [b1] = await p.query<BuildRec>("SELECT * FROM builds WHERE origin = 'misc/help2man'");
  assert.equal(b1!.status, 'success');
  assert.ok(b1!.started_at && b1!.finished_at && b1!.duration_ms >= 0);
  assert.equal(b1!.last_phase, 'package');
  if (cgroupSupport().version !== 0)
    assert.ok(
      Number(b1!.peak_memory_bytes) > 0 && Number(b1!.cpu_ms) >= 0,
      `usage recorded: ${b1!.peak_memory_bytes} bytes, ${b1!.cpu_ms} ms`,
    );
  const phases = await p.query<{ phase: string; exit_code: number }>(
    `SELECT phase, exit_code FROM build_phases WHERE build_id = '${b1!.build_id}' ORDER BY started_at`,
  );
  assert.deepEqual(
    phases.map((x) => x.phase),
    ['fetch', 'checksum', 'extract', 'patch', 'configure', 'build', 'stage', 'package'],
  );
  assert.ok(phases.every((x) => x.exit_code === 0));
  const [s1] = await p.query<StateRec>("SELECT * FROM port_state WHERE origin = 'misc/help2man'");
  assert.equal(s1!.build_id, b1!.build_id);
  assert.match(s1!.crc, /^[0-9a-f]{8}$/);
  assert.equal(s1!.pkgfile, 'help2man-1.49.3.tgz');
  assert.ok(existsSync(`${p.packages}/help2man-1.49.3.tgz`));

  // 2. No change: skipped, logged, no new record.
  const second = await p.pass();
  assert.equal(second.stats.skipped, 1);
  assert.equal(second.stats.success, 0);
  assert.ok(second.lines.includes('misc/help2man@1.49.3 (CRC match, skipped)'), second.lines.join('\n'));
  // Every up-to-date port is listed in the pass's logs in the same form (the terminal shows only the first 20).
  assert.equal(
    readFileSync(join(p.dir, '.portsync/logs/05_up_to_date.log'), 'utf8').split('\n').slice(1).join('\n'),
    'misc/help2man@1.49.3 (CRC match, skipped)\n',
  );
  assert.equal((await p.query('SELECT * FROM builds')).length, 1);

  // 3. A comment in the Makefile: rebuilt, new record, new CRC.
  p.append('misc/help2man/Makefile', '# a harmless comment\n');
  const third = await p.pass();
  assert.equal(third.stats.success, 1);
  assert.equal(third.ports[0]!.reason.startsWith('port-changed'), true, third.ports[0]!.reason);
  const builds = await p.query<BuildRec>('SELECT * FROM builds ORDER BY started_at');
  assert.equal(builds.length, 2);
  const [s2] = await p.query<StateRec>("SELECT * FROM port_state WHERE origin = 'misc/help2man'");
  assert.notEqual(s2!.crc, s1!.crc);
  assert.equal(s2!.build_id, builds[1]!.build_id);

  // 4. A broken patch: failed record, CRC and package index unchanged; not retried at the same inputs.
  p.write(
    'misc/help2man/files/patch-zz-broken',
    '--- nonexistent.c.orig\n+++ nonexistent.c\n@@ -1,1 +1,1 @@\n-nothing here\n+still nothing\n',
  );
  const fourth = await p.pass();
  assert.equal(fourth.status, 'failed');
  assert.equal(fourth.stats.failed, 1);
  assert.equal(fourth.ports[0]!.lastPhase, 'patch');
  const [failed] = await p.query<BuildRec>("SELECT * FROM builds WHERE status = 'failed'");
  assert.equal(failed!.last_phase, 'patch');
  const [s3] = await p.query<StateRec>("SELECT * FROM port_state WHERE origin = 'misc/help2man'");
  assert.equal(s3!.crc, s2!.crc);
  assert.equal(s3!.build_id, s2!.build_id);
  assert.equal(s3!.pkgfile, s2!.pkgfile);
  const again = await p.pass();
  assert.equal(again.stats.blocked, 1, 'a deterministic failure is not retried at the same inputs');
  assert.match(again.ports[0]!.reason, /failed at these inputs/);
  const forced = await p.pass({ force: ['misc/help2man'] });
  assert.equal(forced.stats.failed, 1, '--force retries it');

  // Reverting the breakage brings back inputs whose package is still in the repository: up to date.
  unlinkSync(p.file('misc/help2man/files/patch-zz-broken'));
  const reverted = await p.pass();
  assert.equal(reverted.stats.skipped, 1);
  // A real fix (new inputs) builds.
  p.write('misc/help2man/files/patch-zz-broken', '');
  const fixed = await p.pass();
  assert.equal(fixed.stats.success, 1);
  assert.equal((await p.query("SELECT * FROM builds WHERE status = 'success'")).length, 3);
});

test('a chain: unchanged skips, a change rebuilds it and (policy.cascade: inputs) everything that depends on it', { skip }, async () => {
  // textproc/gamma -> devel/libbeta -> devel/libalpha
  const p = project(['textproc/gamma'], 2, 'policy: { cascade: inputs }');
  const first = await p.pass();
  assert.deepEqual(
    first.ports.map((x) => [x.origin, x.status]),
    [
      ['devel/libalpha', 'success'],
      ['devel/libbeta', 'success'],
      ['textproc/gamma', 'success'],
    ],
  );
  const order = await p.query<BuildRec>('SELECT origin, started_at, finished_at FROM builds ORDER BY started_at');
  for (let i = 1; i < order.length; i++)
    assert.ok(order[i - 1]!.finished_at <= order[i]!.started_at, 'dependencies finish before dependents start');
  const second = await p.pass();
  assert.equal(second.stats.skipped, 3);

  p.append('textproc/gamma/Makefile', '# top changed\n');
  const top = await p.pass();
  assert.deepEqual(
    top.ports.map((x) => [x.origin, x.status]),
    [
      ['devel/libalpha', 'skipped'],
      ['devel/libbeta', 'skipped'],
      ['textproc/gamma', 'success'],
    ],
  );

  p.append('devel/libbeta/Makefile', '# middle changed\n');
  const mid = await p.pass();
  assert.deepEqual(
    mid.ports.map((x) => [x.origin, x.status]),
    [
      ['devel/libalpha', 'skipped'],
      ['devel/libbeta', 'success'],
      ['textproc/gamma', 'success'],
    ],
  );
  const gamma = mid.ports.find((x) => x.origin === 'textproc/gamma')!;
  assert.match(gamma.reason, /dependency-changed: dependency devel\/libbeta/);
});

test('a failure blocks only its dependents; a diamond builds in dependency order', { skip }, async () => {
  const p = project(['textproc/gamma', 'math/numcalc', 'misc/help2man']);
  p.write('devel/libalpha/files/patch-zz-broken', '--- nope.c.orig\n+++ nope.c\n@@ -1 +1 @@\n-a\n+b\n');
  const r = await p.pass();
  const status = Object.fromEntries(r.ports.map((x) => [x.origin, x.status]));
  assert.equal(status['devel/libalpha'], 'failed');
  assert.equal(status['devel/libbeta'], 'blocked');
  assert.equal(status['textproc/gamma'], 'blocked');
  assert.equal(status['misc/help2man'], 'success');
  assert.equal(status['math/numcalc'], 'success');
  assert.match(r.ports.find((x) => x.origin === 'devel/libbeta')!.reason, /dependency devel\/libalpha failed in patch/);
  assert.equal(r.stats.failed, 1);
  assert.equal(r.stats.blocked, 2);
  assert.equal(r.stats.total, r.ports.length);
  const rows = await p.query<BuildRec>('SELECT origin, started_at, finished_at FROM builds');
  const at = Object.fromEntries(rows.map((x) => [x.origin, x]));
  for (const [dependent, dependency] of [
    ['math/numcalc', 'math/numadd'],
    ['math/numcalc', 'math/nummul'],
    ['math/numadd', 'math/numbase'],
    ['math/nummul', 'math/numbase'],
  ]) {
    assert.ok(at[dependency]!.finished_at <= at[dependent]!.started_at, `${dependency} before ${dependent}`);
  }
  assert.equal(
    rows.some((x) => x.origin === 'devel/libbeta'),
    false,
    'a blocked port is never attempted',
  );
  const [run] = await p.query<{ status: string; failed: number; blocked: number; success: number }>('SELECT * FROM runs');
  assert.equal(run!.status, 'failed');
  assert.equal(run!.blocked, 2);
  // dsynth-style summary lists in the logs directory.
  const logs = join(p.dir, '.portsync/logs');
  assert.match(readFileSync(join(logs, '02_failure_list.log'), 'utf8'), /^failed\s+devel\/libalpha\tlibalpha-1\.2\.0\tpatch exited/m);
  assert.match(
    readFileSync(join(logs, '04_skipped_list.log'), 'utf8'),
    /^blocked\s+textproc\/gamma\t.*dependency devel\/libalpha failed in patch/m,
  );
  assert.match(readFileSync(join(logs, '01_success_list.log'), 'utf8'), /^success\s+misc\/help2man\thelp2man-1\.49\.3\t/m);
  assert.equal(readFileSync(join(logs, '00_last_results.log'), 'utf8').trim().split('\n').length, 1 + r.ports.length);
  assert.equal(JSON.parse(readFileSync(join(logs, 'summary.json'), 'utf8')).runId, r.runId);
});

test('missing package: an up-to-date port whose package vanished is rebuilt', { skip }, async () => {
  const p = project(['misc/help2man']);
  await p.pass();
  rmSync(`${p.packages}/help2man-1.49.3.tgz`);
  const r = await p.pass();
  assert.equal(r.stats.success, 1);
  assert.match(r.ports[0]!.reason, /package-missing/);
  mkdirSync(p.packages, { recursive: true });
});

test('a change to a framework script (not a makefile) rebuilds every port, naming the file', { skip }, async () => {
  const p = project(['misc/help2man']);
  await p.pass();
  p.append('Mk/Scripts/package.sh', '\n# framework script changed\n');
  const r = await p.pass();
  assert.equal(r.stats.success, 1);
  assert.match(r.ports[0]!.reason, /framework-changed: framework file Mk\/Scripts\/package\.sh changed/);
});

test('a failed download is transient: not marked failed at these inputs, retried by the next pass', { skip }, async () => {
  const p = project(['misc/help2man']);
  const site = p.file('Sites/help2man-1.49.3.tar.gz');
  const saved = readFileSync(site);
  rmSync(site);
  const first = await p.pass();
  assert.equal(first.stats.failed, 1);
  assert.equal(first.ports[0]!.lastPhase, 'fetch');
  assert.equal(first.ports[0]!.transient, true);
  const [state] = await p.query<{ failed_key: string | null }>("SELECT failed_key FROM port_state WHERE origin = 'misc/help2man'");
  assert.equal(state?.failed_key ?? null, null);
  writeFileSync(site, saved);
  const second = await p.pass();
  assert.equal(second.stats.success, 1, 'retried without --force once the site has it');
});

test(
  "a full packages disk is the machine's fault: transient, not marked against the port, retried once space is back",
  { skip },
  async () => {
    const p = project(['misc/help2man']);
    const repo = join(p.packages, '..');
    mkdirSync(repo, { recursive: true });
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', repo], { encoding: 'utf8' });
    assert.equal(mount.status, 0, mount.stderr);
    try {
      // Fill it: the package phase then meets ENOSPC.
      spawnSync('dd', ['if=/dev/zero', `of=${join(repo, 'filler')}`, 'bs=4k'], { encoding: 'utf8' });
      const r = await p.pass();
      assert.equal(r.stats.failed, 1);
      assert.equal(r.ports[0]!.transient, true, r.ports[0]!.error);
      assert.match(r.ports[0]!.error ?? '', /environment fault/);
      assert.match(r.ports[0]!.error ?? '', /no space left on device/i);
      const [state] = await p.query<{ failed_key: string | null }>("SELECT failed_key FROM port_state WHERE origin = 'misc/help2man'");
      assert.equal(state?.failed_key ?? null, null, 'nothing is marked against the port');
    } finally {
      spawnSync('umount', [repo]);
    }
    const again = await p.pass();
    assert.equal(again.stats.success, 1, 'retried without --force once there is space');
  },
);
