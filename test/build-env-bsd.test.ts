import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentBackend, EnvironmentSetupError, planBsdEnvironment } from '../src/builder/sandbox/index.js';

const paths = { portsTree: '/usr/dports', distfiles: '/usr/distfiles', packages: '/usr/packages', buildBase: '/build' };
const root = '/build/workers/1-abcd/root';

test('bsd plan mounts the system read-only, the tree and the repository ro, distfiles rw, tmpfs work areas and output', () => {
  const plan = planBsdEnvironment(root, paths);
  const byTarget = new Map(plan.mounts.map((m) => [m.target, m]));
  for (const d of [
    '/bin',
    '/sbin',
    '/lib',
    '/libexec',
    '/usr/bin',
    '/usr/include',
    '/usr/lib',
    '/usr/libdata',
    '/usr/libexec',
    '/usr/sbin',
    '/usr/share',
  ]) {
    assert.deepEqual(byTarget.get(root + d), { fstype: 'nullfs', source: d, target: root + d, options: 'ro' });
  }
  assert.deepEqual(byTarget.get(`${root}/xports`), { fstype: 'nullfs', source: '/usr/dports', target: `${root}/xports`, options: 'ro' });
  assert.equal(byTarget.get(`${root}/distfiles`)?.options, 'rw');
  assert.equal(byTarget.get(`${root}/packages`)?.source, '/usr/packages');
  assert.equal(byTarget.get(`${root}/packages`)?.options, 'ro');
  for (const t of ['/output', '/construction', '/usr/local', '/tmp']) assert.equal(byTarget.get(root + t)?.fstype, 'tmpfs');
  assert.equal(byTarget.get(`${root}/dev`)?.fstype, 'devfs');
  assert.equal(byTarget.get(`${root}/proc`)?.fstype, 'procfs');
  // /usr/local is mounted after /usr/lib etc. and nothing is mounted over a later mount's parent
  const order = plan.mounts.map((m) => m.target);
  assert.ok(order.indexOf(`${root}/usr/local`) > order.indexOf(`${root}/usr/lib`));
});

test('bsd setup mounts in plan order and teardown force-unmounts in reverse', () => {
  const plan = planBsdEnvironment(root, paths);
  const mountCmds = plan.setup.filter((c) => c[0] === 'mount');
  assert.deepEqual(mountCmds[0], ['mount', '-t', 'nullfs', '-o', 'ro', '/bin', `${root}/bin`]);
  assert.equal(mountCmds.length, plan.mounts.length);
  assert.ok(plan.setup.findIndex((c) => c[0] === 'mkdir') < plan.setup.findIndex((c) => c[0] === 'mount'));
  assert.deepEqual(
    plan.teardown,
    [...plan.mounts].reverse().map((m) => ['umount', '-f', m.target]),
  );
});

test('bsd run line chroots with a clean environment and the working directory', () => {
  const plan = planBsdEnvironment(root, paths);
  const argv = plan.run({ argv: ['make', '-C', '/xports/misc/help2man', 'build'], env: { PORTSDIR: '/xports', BATCH: 'yes' } });
  assert.deepEqual(argv.slice(0, 2), ['chroot', root]);
  assert.ok(argv.includes('/construction'), 'default cwd is /construction');
  assert.match(argv.join(' '), /env -i/);
  assert.deepEqual(argv.slice(-6), ['PORTSDIR=/xports', 'BATCH=yes', 'make', '-C', '/xports/misc/help2man', 'build']);
});

test(
  'the bsd backend refuses to start on another OS with a setup error',
  { skip: ['freebsd', 'dragonfly'].includes(process.platform) ? 'running on a BSD' : undefined },
  async () => {
    await assert.rejects(environmentBackend('bsd').create(1, paths), (err: unknown) => {
      assert.ok(err instanceof EnvironmentSetupError);
      assert.equal(err.step, 'preflight');
      return true;
    });
  },
);
