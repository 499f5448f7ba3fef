/**
 * The coordinator killed mid-pass (SIGKILL of `portsync reconcile` while an agent builds): the
 * next pass recovers the interrupted run and build, builds what is missing, records nothing
 * twice, and publishes no half package — the orphaned job's upload finds no exchange to take it.
 * Real redis-server, real agents (separate processes, chroot builds), the coordinator a real CLI
 * process. Its own file: it takes most of a minute.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageIdentity } from '../src/fingerprint/packageIdentity.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject, rootMissing } from './helpers/project.js';
import { TOKEN, TestAgent, TestRedis, distributedExecutor, redisMissing } from './helpers/distributed.js';
import { BIN, waitFor } from './helpers/wait.js';

const skip = bmakeMissing() ?? rootMissing() ?? redisMissing();
if (skip) console.log(`# skipping the coordinator restart test: ${skip}`);
process.env.PORTSYNC_AGENT_TOKEN = TOKEN;

const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

test(
  'the coordinator killed mid-pass: the next pass recovers, completes, records once, publishes whole packages',
  { skip, timeout: 180_000 },
  async () => {
    const redis = await TestRedis.start();
    cleanup.push(() => redis.stop());
    const queue = `restart${process.pid}`;
    const p = new TestProject({ ports: ['misc/slowpoke', 'devel/libalpha'], extra: distributedExecutor(redis.url, queue) });
    cleanup.push(() => p.remove());
    // A port whose build takes a few seconds: the coordinator is killed while an agent runs it.
    p.addPort('misc/slowpoke', {
      build: '@echo slowpoke building; sleep 4',
      install: '@mkdir -p ${STAGEDIR}${PREFIX}/share/slowpoke && echo done > ${STAGEDIR}${PREFIX}/share/slowpoke/done',
    });
    const agents = ['one', 'two'].map((name) => new TestAgent({ name, redis: redis.url, queue, portsTree: p.tree }));
    for (const a of agents) cleanup.push(() => a.stop());
    await Promise.all(agents.map((a) => a.ready()));

    // The first coordinator: a `portsync reconcile` process, killed while slowpoke builds on an agent.
    const first = spawn(process.execPath, [BIN, '--config', p.config, 'reconcile'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    first.stdout.on('data', (b: Buffer) => (out += b.toString()));
    first.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const host = await waitFor('slowpoke to go to an agent', () => / misc\/slowpoke: on (one|two)$/m.exec(out)?.[1], 90_000);
    await waitFor('slowpoke to be building', () => / misc\/slowpoke: build$/m.test(out), 30_000);
    const exited = new Promise((r) => first.once('exit', r));
    first.kill('SIGKILL');
    await exited;

    // The second coordinator, in this process: the same builds.yaml, the same queue and agents.
    const second = await p.pass();
    assert.equal(second.status, 'success', second.lines.join('\n'));
    assert.equal(second.ports.find((o) => o.origin === 'misc/slowpoke')!.status, 'success');

    // Recovered: the killed run and its running build are interrupted; each port succeeded once.
    const runs = await p.query<{ status: string; error: string | null }>(`SELECT status, error FROM runs ORDER BY started_at`);
    assert.deepEqual(
      runs.map((r) => r.status),
      ['interrupted', 'success'],
    );
    assert.match(runs[0]!.error!, /its portsync process \(pid \d+\) ended during the run/);
    const slow = await p.query<{ status: string; host: string | null; error: string | null }>(
      `SELECT status, host, error FROM builds WHERE origin = 'misc/slowpoke' ORDER BY started_at`,
    );
    assert.equal(slow.length, 2, JSON.stringify(slow));
    assert.equal(slow[0]!.status, 'interrupted');
    assert.equal(slow[0]!.host, host, 'the lost attempt names the agent it ran on');
    assert.match(slow[0]!.error!, /ended during the build/);
    assert.equal(slow[1]!.status, 'success');
    assert.deepEqual(
      await p.query(`SELECT origin, count(*) AS n FROM builds WHERE status = 'success' GROUP BY ALL HAVING count(*) > 1`),
      [],
    );
    assert.deepEqual(await p.query(`SELECT build_id FROM builds WHERE status = 'running'`), []);
    assert.deepEqual(await p.query(`SELECT build_id, phase, count(*) FROM build_phases GROUP BY ALL HAVING count(*) > 1`), []);

    // No half package: the repository holds exactly the two packages, whole, as recorded.
    const state = await p.query<{ pkgfile: string; pkg_checksum: string }>(`SELECT pkgfile, pkg_checksum FROM port_state ORDER BY pkgfile`);
    assert.equal(state.length, 2);
    assert.deepEqual(
      readdirSync(p.packages).sort(),
      state.map((s) => s.pkgfile).sort(),
      'nothing else (no temporary or partial file) in All/',
    );
    for (const s of state) assert.equal(packageIdentity(join(p.packages, s.pkgfile)).checksum, s.pkg_checksum);
    // Nothing an agent uploaded is left lying in the coordinator's exchange either.
    assert.deepEqual(readdirSync(join(p.dir, '.portsync', 'build', 'distributed', 'uploads')), []);
  },
);
