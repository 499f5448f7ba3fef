import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { environmentBackend, EnvironmentGoneError, BadEnvironmentVariableError, type EnvPaths } from '../src/builder/sandbox/index.js';

const host = environmentBackend('host');
const ENV = { PATH: '/usr/bin:/bin', LC_ALL: 'C' };

async function sleepsWith(marker: string): Promise<number> {
  let n = 0;
  for (const name of await readdir('/proc').catch(() => [])) {
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('sleep\0') && cmdline.includes(marker)) n++;
  }
  return n;
}

describe('host build environment (no isolation)', () => {
  let base: string;
  let paths: EnvPaths;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'portsync-hostenv-'));
    paths = { portsTree: join(base, 'ports'), distfiles: join(base, 'dist'), packages: join(base, 'pkg'), buildBase: join(base, 'build') };
    await mkdir(paths.portsTree);
  });
  after(() => rm(base, { recursive: true, force: true }));

  test('runs in the worker construction dir with exactly the given environment and merged output', async () => {
    const env = await host.create(1, paths);
    try {
      assert.equal(env.inside.portsTree, paths.portsTree);
      assert.ok(env.inside.localbase.startsWith(join(paths.buildBase, 'workers')));
      assert.equal(env.hostPath(env.inside.localbase), env.inside.localbase);
      let out = '';
      const r = await env.run({
        argv: ['sh', '-c', 'pwd; env | sort; echo err >&2; touch "$LOCALBASE/dep"; exit 4'],
        env: { ...ENV, LOCALBASE: env.inside.localbase },
        onOutput: (c) => (out += c.toString()),
      });
      assert.equal(r.exitCode, 4);
      const lines = out.trim().split('\n');
      assert.equal(lines[0], env.inside.construction);
      const names = lines.filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.slice(0, l.indexOf('=')));
      assert.deepEqual(
        names.filter((n) => n !== 'PWD' && n !== 'SHLVL'),
        ['LC_ALL', 'LOCALBASE', 'PATH'],
      );
      assert.ok(lines.includes('err'));
      await access(join(env.inside.localbase, 'dep'));
    } finally {
      await env.destroy();
    }
    await assert.rejects(env.run({ argv: ['true'], env: ENV }), EnvironmentGoneError);
  });

  test('a timeout kills the process group, background children included', async () => {
    const env = await host.create(2, paths);
    const marker = `0.${randomInt(1e8, 1e9)}`;
    try {
      const r = await env.run({ argv: ['sh', '-c', `sleep 1000 ${marker} & sleep 1000 ${marker}`], env: ENV, timeoutMs: 300 });
      assert.equal(r.timedOut, 'phase');
      if (process.platform === 'linux') assert.equal(await sleepsWith(marker), 0);
    } finally {
      await env.destroy();
    }
  });

  test('a bad environment variable name is rejected by name', async () => {
    const env = await host.create(3, paths);
    try {
      await assert.rejects(env.run({ argv: ['true'], env: { 'A=B': 'x' } }), (err: unknown) => {
        assert.ok(err instanceof BadEnvironmentVariableError);
        assert.equal(err.variable, 'A=B');
        return true;
      });
    } finally {
      await env.destroy();
    }
  });

  test('cleanupStale removes a dead owner’s worker dir and keeps a live one', async () => {
    const live = await host.create(1, paths);
    const dead = join(paths.buildBase, 'workers', '9-0badc0de');
    await mkdir(join(dead, 'localbase'), { recursive: true });
    const gone = spawnSync('true');
    await writeFile(join(dead, 'owner.json'), JSON.stringify({ pid: gone.pid, startTime: '0', slot: 9, backend: 'host', createdAt: '' }));
    try {
      const report = await host.cleanupStale(paths.buildBase);
      assert.deepEqual(report.removed, [dead]);
      assert.deepEqual(report.active, [live.root]);
      await assert.rejects(access(dead));
      await access(live.root);
    } finally {
      await live.destroy();
    }
  });
  test('a daemon the build detaches with setsid does not outlive the run', async () => {
    const env = await host.create(1, paths);
    const marker = String(300 + randomInt(10_000) / 10_000);
    try {
      const r = await env.run({ argv: ['sh', '-c', `setsid sleep ${marker} >/dev/null 2>&1 & echo started`], env: ENV });
      assert.equal(r.exitCode, 0);
      for (let i = 0; i < 50 && (await sleepsWith(marker)) > 0; i++) await new Promise((res) => setTimeout(res, 100));
      assert.equal(await sleepsWith(marker), 0, 'the detached sleep died with the run');
    } finally {
      await env.destroy();
    }
  });
});
