/**
 * Isolation, through the whole engine: only declared dependencies are installed, the tree is
 * read-only, and broken fixture ports fail with their phase named and nothing recorded as good.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { bmakeMissing } from './helpers/minitree.js';
import { REPO, TestProject, rootMissing } from './helpers/project.js';
import { cli } from './helpers/wait.js';
import { installPackagesScript } from '../src/builder/phases.js';

const skip = bmakeMissing() ?? rootMissing();
const BROKEN_TREE = join(REPO, 'test/fixtures/ports-broken');
const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

test('undeclared dependency: a port that needs an undeclared package fails even when that package exists', { skip }, async () => {
  const p = new TestProject({ tree: BROKEN_TREE, ports: ['devel/libalpha'] });
  projects.push(p);
  const first = await p.pass();
  assert.equal(first.stats.success, 1, first.lines.join('\n'));
  assert.ok(existsSync(join(p.packages, 'libalpha-1.2.0.tgz')));
  p.writeConfig({ tree: BROKEN_TREE, ports: ['devel/libalpha', 'broken/sneaky'] });
  const second = await p.pass();
  const sneaky = second.ports.find((x) => x.origin === 'broken/sneaky')!;
  assert.equal(sneaky.status, 'failed');
  assert.equal(sneaky.lastPhase, 'build');
  assert.match(readFileSync(sneaky.logPath!, 'utf8'), /alpha/);
  const [state] = await p.query("SELECT * FROM port_state WHERE origin = 'broken/sneaky' AND build_id IS NOT NULL");
  assert.equal(state, undefined, 'a failed build never records a good state');
});

test('the ports tree is read-only inside the build', { skip }, async () => {
  const p = new TestProject({ tree: BROKEN_TREE, ports: ['broken/dirty'] });
  projects.push(p);
  const r = await p.pass();
  const dirty = r.ports[0]!;
  assert.equal(dirty.status, 'failed');
  assert.equal(dirty.lastPhase, 'build');
  assert.match(readFileSync(dirty.logPath!, 'utf8'), /Read-only file system/);
  assert.equal(existsSync(p.file('broken/dirty/built-here')), false);
});

test('broken fixtures: bad patch, failing build, bad checksum fail in their phase', { skip }, async () => {
  const p = new TestProject({ tree: BROKEN_TREE, ports: ['broken/badpatch', 'broken/buildfail', 'broken/badsum'] });
  projects.push(p);
  const r = await p.pass();
  const phase = Object.fromEntries(r.ports.map((x) => [x.origin, `${x.status}:${x.lastPhase}`]));
  assert.equal(phase['broken/badpatch'], 'failed:patch');
  assert.equal(phase['broken/buildfail'], 'failed:build');
  assert.equal(phase['broken/badsum'], 'failed:checksum');
  assert.equal(r.status, 'failed');
});

test('a cycle and a missing dependency are named and block only what hangs on them', { skip }, async () => {
  const p = new TestProject({ tree: BROKEN_TREE, ports: ['broken/cyca', 'broken/needsghost', 'devel/libalpha'] });
  projects.push(p);
  const r = await p.pass();
  const by = Object.fromEntries(r.ports.map((x) => [x.origin, x]));
  assert.equal(by['devel/libalpha']!.status, 'success');
  assert.equal(by['broken/cyca']!.status, 'blocked');
  assert.equal(by['broken/cycb']!.status, 'blocked');
  assert.match(by['broken/cyca']!.reason, /cycle: in a dependency cycle: broken\/cyca -> broken\/cycb -> broken\/cyca/);
  assert.equal(by['broken/needsghost']!.status, 'blocked');
  assert.ok(
    r.plan.problems.some((x) => /no such port: .*ghost.*needed by broken\/needsghost/.test(x)),
    r.plan.problems.join('\n'),
  );
});

test(
  'a hostile port: chroot escape, remounts, mknod, network, overwriting a package, writing the tree and a surviving daemon all fail; the host is unchanged',
  { skip },
  async () => {
    const p = new TestProject({ tree: BROKEN_TREE, ports: ['devel/libalpha'] });
    projects.push(p);
    assert.equal((await p.pass()).stats.success, 1);
    const pkg = join(p.packages, 'libalpha-1.2.0.tgz');
    const pkgBefore = readFileSync(pkg);
    const marker = randomUUID().slice(0, 8);
    let connected = false;
    const server = createServer((s) => {
      connected = true;
      s.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      p.write('broken/hostile/files/marker', marker);
      p.write('broken/hostile/files/port', String((server.address() as { port: number }).port));
      p.writeConfig({ tree: BROKEN_TREE, ports: ['devel/libalpha', 'broken/hostile'] });
      const r = await p.pass();
      const hostile = r.ports.find((x) => x.origin === 'broken/hostile')!;
      assert.equal(hostile.status, 'failed');
      assert.equal(hostile.lastPhase, 'build');
      const log = readFileSync(hostile.logPath!, 'utf8');
      for (const attack of ['chroot-escape', 'remount-tree', 'remount-root', 'mknod', 'overwrite-package', 'write-tree', 'network']) {
        assert.match(log, new RegExp(`ATTACK ${attack}: blocked`), `${attack}:\n${log}`);
      }
      assert.match(log, /hostile: attacks done/);
      assert.equal(existsSync(`/tmp/portsync-escaped-${marker}`), false, 'nothing written on the host');
      assert.deepEqual(readFileSync(pkg), pkgBefore, "the other port's package is untouched");
      assert.equal(existsSync(p.file('Mk/injected')), false);
      assert.equal(connected, false, 'no connection reached the host network');
      assert.equal(spawnSync('pgrep', ['-f', `portsync-survivor-${marker}`]).status, 1, 'no process of the build outlives it');
    } finally {
      server.close();
    }
  },
);

test(
  'a package replaced in the repository after it was built: plan names it, the pass rebuilds it before anything installs it',
  { skip },
  async () => {
    const p = new TestProject({ ports: ['devel/libbeta'] });
    projects.push(p);
    assert.equal((await p.pass()).stats.success, 2);
    const pkg = join(p.packages, 'libalpha-1.2.0.tgz');
    const [{ checksum }] = await p.query<{ checksum: string }>(
      `SELECT pkg_checksum AS checksum FROM port_state WHERE origin = 'devel/libalpha'`,
    );
    // Someone swaps libalpha's package for another valid archive.
    const trojan = join(p.dir, 'trojan');
    spawnSync('sh', ['-c', `mkdir -p ${trojan}/lib && echo TROJAN > ${trojan}/lib/libalpha.so && tar -czf ${pkg} -C ${trojan} lib`]);
    const plan = await cli(p.dir, ['plan', '--json']);
    assert.equal(plan.code, 1, plan.err);
    const alpha = (
      JSON.parse(plan.out) as { ports: { origin: string; action: string; reasons: { kind: string; detail: string }[] }[] }
    ).ports.find((x) => x.origin === 'devel/libalpha')!;
    assert.equal(alpha.action, 'build');
    assert.deepEqual(
      alpha.reasons.map((r) => r.kind),
      ['package-changed'],
    );
    assert.match(alpha.reasons[0]!.detail, /libalpha-1\.2\.0\.tgz in the repository is not the one built/);
    // The pass rebuilds it first; libbeta (forced) installs the rebuilt package, never the swapped one.
    const r = await p.pass({ force: ['devel/libbeta'] });
    assert.deepEqual(
      r.ports.map((x) => [x.origin, x.status]),
      [
        ['devel/libalpha', 'success'],
        ['devel/libbeta', 'success'],
      ],
    );
    assert.equal(createHash('sha256').update(readFileSync(pkg)).digest('hex'), checksum, 'the package is again the one built');
    assert.equal((await cli(p.dir, ['plan'])).code, 0, 'in sync again');
  },
);

test(
  'the install step refuses a dependency package whose checksum is not the recorded one (a swap between plan and install)',
  { skip: bmakeMissing() },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'portsync-install-'));
    projects.push({ remove: () => rmSync(dir, { recursive: true, force: true }) } as TestProject);
    const inside = {
      portsTree: '',
      distfiles: '',
      packages: join(dir, 'packages'),
      output: '',
      construction: '',
      localbase: join(dir, 'local'),
      tmp: '',
    };
    mkdirSync(join(inside.packages, 'All'), { recursive: true });
    const src = join(dir, 'src');
    mkdirSync(join(src, 'lib'), { recursive: true });
    writeFileSync(join(src, '+MANIFEST'), 'name: libalpha\n');
    writeFileSync(join(src, 'lib', 'libalpha.so'), 'GOOD\n');
    const file = join(inside.packages, 'All', 'libalpha-1.2.0.tgz');
    spawnSync('tar', ['-czf', file, '-C', src, '+MANIFEST', 'lib']);
    const checksum = createHash('sha256').update(readFileSync(file)).digest('hex');
    const run = () =>
      spawnSync('sh', ['-c', installPackagesScript(inside, [{ pkgname: 'libalpha-1.2.0', pkgfile: 'libalpha-1.2.0.tgz', checksum }])], {
        encoding: 'utf8',
      });
    assert.equal(run().status, 0, 'the recorded package installs');
    assert.equal(readFileSync(join(inside.localbase, 'lib', 'libalpha.so'), 'utf8'), 'GOOD\n');
    rmSync(inside.localbase, { recursive: true });
    writeFileSync(join(src, 'lib', 'libalpha.so'), 'TROJAN\n');
    spawnSync('tar', ['-czf', file, '-C', src, '+MANIFEST', 'lib']);
    const refused = run();
    assert.equal(refused.status, 1);
    assert.match(refused.stdout, /libalpha-1\.2\.0\.tgz does not match the checksum recorded when it was built; it is not installed/);
    assert.equal(existsSync(join(inside.localbase, 'lib', 'libalpha.so')), false, 'nothing of it was installed');
  },
);
