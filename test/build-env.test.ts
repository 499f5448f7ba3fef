import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, readlink, rm, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  environmentBackend,
  EnvironmentSetupError,
  EnvironmentGoneError,
  UnsafeCleanupError,
  removeUnmountedTree,
  type EnvPaths,
} from '../src/builder/sandbox/index.js';
import { readOwner } from '../src/builder/sandbox/owner.js';

import { cgroupSupport } from '../src/builder/sandbox/cgroup.js';
const chroot = environmentBackend('chroot');
const ENV = { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/root', LC_ALL: 'C' };

function missingTool(): string | undefined {
  for (const tool of ['unshare', 'nsenter', 'setpriv', 'mount', 'perl']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return tool;
  }
  return undefined;
}
const skipReason =
  process.platform !== 'linux'
    ? `chroot backend needs Linux namespaces; this is ${process.platform}`
    : process.getuid?.() !== 0
      ? 'chroot backend needs root (mount namespaces, bind mounts); run the tests as root'
      : missingTool()
        ? `chroot backend needs ${missingTool()} (util-linux/perl), not found on PATH`
        : undefined;

/** Pids whose command line contains `marker` (only `sleep` processes with `sleepsOnly`). */
async function processesWith(marker: string, sleepsOnly = false): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(marker) && (!sleepsOnly || cmdline.startsWith('sleep\0'))) found.push(Number(name));
  }
  return found;
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A `sleep` whose command line is unique, so leftovers can be found in /proc. */
function markedSleep(): { marker: string; cmd: string } {
  const marker = `0.${randomInt(1e8, 1e9)}`;
  return { marker, cmd: `sleep 1000 ${marker}` };
}

describe('chroot build environment', { skip: skipReason }, () => {
  let base: string;
  let paths: EnvPaths;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'portsync-env-'));
    paths = {
      portsTree: join(base, 'ports'),
      distfiles: join(base, 'distfiles'),
      packages: join(base, 'packages'),
      buildBase: join(base, 'build'),
    };
    await mkdir(join(paths.portsTree, 'misc/hello'), { recursive: true });
    await writeFile(join(paths.portsTree, 'misc/hello/Makefile'), 'PORTNAME=hello\n');
    await mkdir(join(paths.distfiles), { recursive: true });
    await writeFile(join(paths.distfiles, 'keep.tar.gz'), 'precious');
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  test('the ports tree is readable at /xports; it and the repository refuse writes; the private /distfiles and /output take them', async () => {
    const env = await chroot.create(1, paths);
    try {
      let out = '';
      const r = await env.run({
        argv: [
          'sh',
          '-c',
          'cat /xports/misc/hello/Makefile; touch /xports/misc/hello/x; echo "rc=$?"; touch /packages/pkg; echo "pkg=$?"; touch /distfiles/by-root; echo "rootdist=$?"',
        ],
        env: ENV,
        onOutput: (c) => (out += c.toString()),
      });
      assert.equal(r.exitCode, 0, out);
      assert.match(out, /PORTNAME=hello/);
      assert.match(out, /Read-only file system/);
      assert.match(out, /rc=1/);
      await assert.rejects(access(join(paths.portsTree, 'misc/hello/x')));
      assert.match(out, /pkg=1/, 'the repository is read-only: only portsync moves a checked package into it');
      await assert.rejects(access(join(paths.packages, 'pkg')));
      // Root without capabilities cannot write the build user's /distfiles (no CAP_DAC_OVERRIDE).
      assert.match(out, /rootdist=1/);
      // The private output and DISTDIR belong to the build user, who fetches and writes the package
      // there; the shared cache is not in the build's root at all (portsync fills and publishes it).
      const asUser = await env.run({
        argv: ['sh', '-c', 'id -u; touch /output/pkg; touch /distfiles/by-user; echo "dist=$?"; ls -A /distfiles'],
        env: ENV,
        unprivileged: true,
        onOutput: (c) => (out += c.toString()),
      });
      assert.equal(asUser.exitCode, 0, out);
      assert.match(out, /^65534$/m);
      assert.match(out, /dist=0/, 'the build user writes its own DISTDIR');
      assert.doesNotMatch(out, /keep\.tar\.gz/, 'the shared cache is not visible inside');
      assert.equal(env.privateDistfiles, env.hostPath('/distfiles'));
      await access(join(env.privateDistfiles!, 'by-user'));
      await assert.rejects(access(join(paths.distfiles, 'by-user')), 'nothing reaches the shared cache but what portsync publishes');
      assert.equal(await readFile(env.hostPath('/output/pkg'), 'utf8'), '');
    } finally {
      await env.destroy();
    }
  });

  test('/usr/local starts empty, persists across runs of one environment, and is fresh in the next', async () => {
    const first = await chroot.create(1, paths);
    const ls = async (env: typeof first) => {
      let out = '';
      await env.run({ argv: ['ls', '-A', '/usr/local'], env: ENV, onOutput: (c) => (out += c.toString()) });
      return out.trim();
    };
    try {
      assert.equal(await ls(first), '');
      const r = await first.run({ argv: ['sh', '-c', 'mkdir -p /usr/local/bin && echo dep > /usr/local/bin/dep'], env: ENV });
      assert.equal(r.exitCode, 0);
      assert.equal(await ls(first), 'bin');
      assert.equal(await readFile(first.hostPath('/usr/local/bin/dep'), 'utf8'), 'dep\n');
      await assert.rejects(access('/usr/local/bin/dep')); // not the host's /usr/local
    } finally {
      await first.destroy();
    }
    const second = await chroot.create(1, paths);
    try {
      assert.equal(await ls(second), '');
    } finally {
      await second.destroy();
    }
  });

  test(
    'bounded resources: a fork bomb hits pids, a full tmpfs says so, a memory hog is killed; usage is measured',
    { skip: cgroupSupport().version === 0 ? (cgroupSupport() as { why: string }).why : false },
    async () => {
      const env = await chroot.create(1, paths, {
        tmpfs: { construction: '8m', localbase: '8m', tmp: '1m' },
        pids: 40,
        memoryBytes: 64 * 2 ** 20,
      });
      try {
        let out = '';
        const bomb = await env.run({
          argv: [
            'perl',
            '-e',
            'my $n = 0; for (1..100) { my $p = fork(); last unless defined $p; if (!$p) { sleep 3; exit 0 } $n++ } print "started=$n\\n"; 1 while wait() > 0',
          ],
          env: ENV,
          onOutput: (c) => (out += c.toString()),
        });
        assert.equal(bomb.exitCode, 0, out);
        const started = Number(/started=(\d+)/.exec(out)?.[1]);
        assert.ok(started < 40, `only what pids.max allows started (${started})`);
        out = '';
        const fill = await env.run({
          argv: ['sh', '-c', 'dd if=/dev/zero of=/tmp/big bs=64k count=64'],
          env: ENV,
          onOutput: (c) => (out += c.toString()),
        });
        assert.notEqual(fill.exitCode, 0);
        assert.match(out, /No space left on device/);
        const hog = await env.run({ argv: ['perl', '-e', '$x = "x" x (256 * 1024 * 1024); print length($x)'], env: ENV });
        assert.equal(hog.signal, 'SIGKILL', 'the memory hog is killed by the cgroup, not the machine');
        const usage = env.usage!()!;
        assert.ok(
          usage.peakMemoryBytes! > 16 * 2 ** 20 && usage.peakMemoryBytes! <= 64 * 2 ** 20 + 2 ** 20,
          `peak ${usage.peakMemoryBytes}`,
        );
        assert.ok(usage.cpuMs! >= 0);
      } finally {
        await env.destroy();
      }
    },
  );

  test('cc compiles and runs a program in /construction, as the unprivileged build user who owns it', async () => {
    const env = await chroot.create(2, paths);
    try {
      let out = '';
      const r = await env.run({
        argv: [
          'sh',
          '-c',
          'printf "#include <stdio.h>\\nint main(void){puts(\\"hello from chroot\\");return 0;}\\n" > hello.c && cc -o hello hello.c && ./hello',
        ],
        env: ENV,
        unprivileged: true,
        onOutput: (c) => (out += c.toString()),
      });
      assert.equal(r.exitCode, 0, out);
      assert.match(out, /hello from chroot/);
      await access(env.hostPath('/construction/hello'));
    } finally {
      await env.destroy();
    }
  });

  test('exit status, signals, cwd, a clean environment and merged output are reported', async () => {
    const env = await chroot.create(1, paths);
    const logPath = join(base, 'phase.log');
    const { createWriteStream } = await import('node:fs');
    const log = createWriteStream(logPath);
    try {
      const r1 = await env.run({
        argv: ['sh', '-c', 'pwd; env | sort; echo to-stderr >&2; exit 3'],
        cwd: '/xports/misc',
        env: { ...ENV, FOO: 'bar' },
        log,
      });
      assert.equal(r1.exitCode, 3);
      assert.equal(r1.signal, null);
      const r2 = await env.run({ argv: ['sh', '-c', 'kill -SEGV $$'], env: ENV });
      assert.equal(r2.exitCode, null);
      assert.equal(r2.signal, 'SIGSEGV');
      const r3 = await env.run({ argv: ['no-such-command'], env: ENV, log });
      assert.equal(r3.exitCode, 127);
      await new Promise<void>((res) => log.end(res));
      const text = await readFile(logPath, 'utf8');
      assert.match(text, /^\/xports\/misc$/m);
      assert.match(text, /^FOO=bar$/m);
      assert.match(text, /^to-stderr$/m);
      assert.doesNotMatch(text, /^PWD_FROM_HOST|^USER=/m);
      assert.match(text, /cannot run no-such-command/);
    } finally {
      await env.destroy();
    }
  });

  test('the phase timeout kills the whole tree, background grandchildren included', async () => {
    const env = await chroot.create(1, paths);
    const { marker, cmd } = markedSleep();
    try {
      const r = await env.run({ argv: ['sh', '-c', `${cmd} & ${cmd}`], env: ENV, timeoutMs: 400 });
      assert.equal(r.timedOut, 'phase');
      assert.equal(r.signal, 'SIGKILL');
      assert.ok(r.durationMs < 5000, `took ${r.durationMs} ms`);
      await waitFor(`no "${marker}" process`, async () => (await processesWith(marker)).length === 0);
    } finally {
      await env.destroy();
    }
  });

  test('the no-output watchdog kills a silent build; output keeps it alive', async () => {
    const env = await chroot.create(1, paths);
    const { marker, cmd } = markedSleep();
    try {
      const chatty = await env.run({
        argv: ['sh', '-c', 'for i in 1 2 3 4 5 6; do echo tick; sleep 0.1; done'],
        env: ENV,
        noOutputTimeoutMs: 400,
      });
      assert.equal(chatty.exitCode, 0);
      assert.equal(chatty.timedOut, undefined);
      let out = '';
      const r = await env.run({
        argv: ['sh', '-c', `echo started; (${cmd} &); ${cmd}`],
        env: ENV,
        noOutputTimeoutMs: 400,
        timeoutMs: 30_000,
        onOutput: (c) => (out += c.toString()),
      });
      assert.equal(r.timedOut, 'no-output');
      assert.match(out, /started/);
      await waitFor(`no "${marker}" process`, async () => (await processesWith(marker)).length === 0);
    } finally {
      await env.destroy();
    }
  });

  test('an abort signal kills the run', async () => {
    const env = await chroot.create(1, paths);
    const { marker, cmd } = markedSleep();
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      const r = await env.run({ argv: ['sh', '-c', cmd], env: ENV, signal: ac.signal });
      assert.equal(r.aborted, true);
      await waitFor(`no "${marker}" process`, async () => (await processesWith(marker)).length === 0);
    } finally {
      await env.destroy();
    }
  });

  test('SIGKILL of the owning process leaves no process, namespace or mount behind', async (t) => {
    const { marker, cmd } = markedSleep();
    const moduleUrl = new URL('../src/builder/sandbox/index.ts', import.meta.url).href;
    const code = `
      const { environmentBackend } = await import(${JSON.stringify(moduleUrl)});
      const env = await environmentBackend('chroot').create(5, ${JSON.stringify(paths)});
      console.log(JSON.stringify({ root: env.root }));
      await env.run({ argv: ['sh', '-c', ${JSON.stringify(`${cmd} & echo running; ${cmd}`)}], env: ${JSON.stringify(ENV)},
        onOutput: (c) => { if (String(c).includes('running')) console.log('running'); } });
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: join(dirname(fileURLToPath(import.meta.url)), '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('running\n')) resolve();
      });
      child.once('exit', (c) => reject(new Error(`child exited early (${c}): ${out}`)));
    });
    const { root } = JSON.parse(out.split('\n')[0]!) as { root: string };
    const envDir = dirname(root);
    const owner = await readOwner(envDir);
    assert.ok(owner?.holderPid, 'owner.json names the namespace holder');
    const holderNs = await readlink(`/proc/${owner.holderPid}/ns/mnt`);
    // ("running" is printed between the two sleeps: the second may take a moment to start.)
    await waitFor('both sleeps to run before the kill', async () => (await processesWith(marker, true)).length === 2);

    child.kill('SIGKILL');
    await waitFor(`no "${marker}" process`, async () => (await processesWith(marker)).length === 0);
    await waitFor('the holder mount namespace to be gone', async () => {
      for (const pid of await readdir('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        if ((await readlink(`/proc/${pid}/ns/mnt`).catch(() => '')) === holderNs) return false;
      }
      return true;
    });
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!mountinfo.includes(envDir), 'no mount under the environment in the host namespace');

    const report = await chroot.cleanupStale(paths.buildBase);
    assert.deepEqual(report.removed, [envDir]);
    await assert.rejects(access(envDir));
    assert.equal(await readFile(join(paths.distfiles, 'keep.tar.gz'), 'utf8'), 'precious');
  });

  test('cleanupStale unmounts a crashed worker’s bind mounts and never deletes host files through them', async () => {
    const workers = join(paths.buildBase, 'workers');
    const dead = join(workers, '7-deadbeef');
    const target = join(dead, 'root/distfiles');
    await mkdir(target, { recursive: true });
    const gone = spawnSync('true'); // a pid that has exited
    await writeFile(join(dead, 'owner.json'), JSON.stringify({ pid: gone.pid, startTime: '0', slot: 7, backend: 'chroot', createdAt: '' }));
    execFileSync('mount', ['--bind', paths.distfiles, target]);
    try {
      await assert.rejects(removeUnmountedTree(dead), (err: unknown) => {
        assert.ok(err instanceof UnsafeCleanupError);
        assert.equal(err.mountpoint, target);
        assert.equal(err.path, dead);
        return true;
      });
      assert.equal(await readFile(join(target, 'keep.tar.gz'), 'utf8'), 'precious');

      const report = await chroot.cleanupStale(paths.buildBase);
      assert.deepEqual(report.unmounted, [target]);
      assert.ok(report.removed.includes(dead));
      assert.deepEqual(report.refused, []);
    } finally {
      spawnSync('umount', ['-l', target]);
    }
    assert.equal(await readFile(join(paths.distfiles, 'keep.tar.gz'), 'utf8'), 'precious');
    await assert.rejects(access(dead));
  });

  test('cleanupStale keeps environments whose owner is alive', async () => {
    const env = await chroot.create(3, paths);
    try {
      const report = await chroot.cleanupStale(paths.buildBase);
      assert.ok(report.active.includes(dirname(env.root)));
      const r = await env.run({ argv: ['true'], env: ENV });
      assert.equal(r.exitCode, 0);
    } finally {
      await env.destroy();
    }
    await assert.rejects(access(dirname(env.root)));
    await assert.rejects(env.run({ argv: ['true'], env: ENV }), EnvironmentGoneError);
  });

  test('a missing ports tree is a setup error naming the mount, and leaves nothing behind', async () => {
    const before = await readdir(join(paths.buildBase, 'workers')).catch(() => []);
    await assert.rejects(chroot.create(4, { ...paths, portsTree: join(base, 'no-such-tree') }), (err: unknown) => {
      assert.ok(err instanceof EnvironmentSetupError, String(err));
      assert.equal(err.slot, 4);
      assert.match(err.step, /xports/);
      return true;
    });
    assert.deepEqual(await readdir(join(paths.buildBase, 'workers')).catch(() => []), before);
  });
});
