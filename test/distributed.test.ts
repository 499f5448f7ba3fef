/**
 * Distributed builds for real: a redis-server of the test's own, two `portsync agent` processes
 * with build bases of their own (chroot backend, root), the coordinator a reconcile pass in this
 * process. A distributed pass gives the packages and records a local pass gives; an agent killed
 * mid-build loses its job to the other one; a silent agent is timed out with the build's limits;
 * a Redis restart mid-pass changes nothing; an upload cut halfway publishes nothing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineProgress } from '../src/builder/progress.js';
import { loadDesiredState } from '../src/config/load.js';
import { DistributedExecutor } from '../src/distributed/coordinator.js';
import { PackageExchange, type StoredUpload } from '../src/distributed/exchange.js';
import { decodeUploadReport, encodeUploadReport } from '../src/distributed/job.js';
import { SERVED_FILE_MAX, ServedPackages } from '../src/distributed/servedPackages.js';
import { fetchPackage } from '../src/distributed/transfer.js';
import { packageIdentity } from '../src/fingerprint/packageIdentity.js';
import { reconcilePass } from '../src/reconcile/pass.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject, rootMissing } from './helpers/project.js';
import { TOKEN, TestAgent, TestRedis, distributedExecutor, redisMissing } from './helpers/distributed.js';
import { waitFor } from './helpers/wait.js';

const skip = bmakeMissing() ?? rootMissing() ?? redisMissing();
if (skip) console.log(`# skipping the distributed build tests: ${skip}`);
process.env.PORTSYNC_AGENT_TOKEN = TOKEN;

const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});
let redis: TestRedis | undefined;
async function sharedRedis(): Promise<TestRedis> {
  if (!redis) {
    redis = await TestRedis.start();
    const r = redis;
    cleanup.push(() => r.stop());
  }
  return redis;
}
function project(ports: string[], extra = ''): TestProject {
  const p = new TestProject({ ports, extra });
  cleanup.push(() => p.remove());
  return p;
}
/** Each test has a queue of its own: agents of one test never take another's jobs. */
let queues = 0;
const newQueue = () => `test${process.pid}-${++queues}`;

async function agents(
  p: TestProject,
  url: string,
  queue: string,
  names: string[],
  opts: { ownTree?: boolean; lockTimeout?: string } = {},
): Promise<TestAgent[]> {
  const list = names.map((name, i) => {
    // The second agent reads a copy of the tree of its own: agents need the same files, not the same directory.
    let tree = p.tree;
    if (opts.ownTree && i > 0) {
      tree = mkdtempSync(join(tmpdir(), 'portsync-agent-tree-'));
      chmodSync(tree, 0o755); // the build user reads the tree (mkdtemp makes it 0700)
      cpSync(p.tree, tree, { recursive: true });
      const t = tree;
      cleanup.push(() => rmSync(t, { recursive: true, force: true }));
    }
    const a = new TestAgent({ name, redis: url, queue, portsTree: tree, ...(opts.lockTimeout ? { lockTimeout: opts.lockTimeout } : {}) });
    cleanup.push(() => a.stop());
    return a;
  });
  await Promise.all(list.map((a) => a.ready()));
  return list;
}

/** A pass in this process whose printed lines can be watched while it runs. */
function passWithLines(p: TestProject) {
  const lines: string[] = [];
  const done = (async () => {
    const state = await loadDesiredState(p.config);
    return reconcilePass(state, { trigger: 'test', progress: new LineProgress((l) => lines.push(l)), log: (l) => lines.push(l) });
  })();
  return { lines, done };
}

/** The published packages of a project (<packages>/All), by file name: their normalized identities. */
function packageIdentities(p: TestProject): Map<string, string> {
  const all = join(p.dir, '.portsync', 'packages', 'All');
  return new Map(
    readdirSync(all)
      .filter((n) => !n.startsWith('.'))
      .sort()
      .map((n) => [n, packageIdentity(join(all, n)).identity]),
  );
}

const EQUIVALENCE_PORTS = ['textproc/gamma', 'textproc/pyfmt'];

test('a distributed pass on two agents gives the packages and the records of a local pass', { skip, timeout: 240_000 }, async () => {
  const { url } = await sharedRedis();
  const queue = newQueue();
  const local = project(EQUIVALENCE_PORTS);
  const dist = project(EQUIVALENCE_PORTS, distributedExecutor(url, queue));
  const [localRun] = await Promise.all([local.pass(), agents(dist, url, queue, ['alpha', 'beta'], { ownTree: true })]);
  const distRun = await dist.pass();
  assert.equal(localRun.status, 'success', localRun.lines.join('\n'));
  assert.equal(distRun.status, 'success', distRun.lines.join('\n'));
  assert.equal(distRun.stats.success, 5, 'libalpha, libbeta, gamma, pyish@py312, pyfmt built');

  // Same packages: the same files with the same normalized identities.
  const localPkgs = packageIdentities(local);
  const distPkgs = packageIdentities(dist);
  assert.equal(localPkgs.size, 5);
  assert.deepEqual(distPkgs, localPkgs);

  // Same records: every build and port state, the same keys and identities; remote builds name their agent.
  const builds = `SELECT origin, status, build_key, pkg_identity, pkg_checksum, last_phase, error FROM builds ORDER BY origin`;
  assert.deepEqual(await dist.query(builds), await local.query(builds));
  const state = `SELECT origin, build_key, version, pkgfile, pkg_identity, pkg_checksum, failed_key FROM port_state ORDER BY origin`;
  assert.deepEqual(await dist.query(state), await local.query(state));
  const phases = `SELECT b.origin, p.phase, p.exit_code FROM build_phases p JOIN builds b USING (build_id) ORDER BY 1, 2`;
  assert.deepEqual(await dist.query(phases), await local.query(phases));
  const hosts = await dist.query<{ host: string }>(`SELECT DISTINCT host FROM builds ORDER BY 1`);
  assert.ok(
    hosts.every((h) => h.host === 'alpha' || h.host === 'beta'),
    JSON.stringify(hosts),
  );
  assert.deepEqual(await local.query(`SELECT DISTINCT host FROM builds`), [{ host: null }]);
  // The coordinator has each build's log, streamed from the agent as it was written.
  const log = distRun.ports.find((o) => o.origin === 'textproc/gamma')!.logPath!;
  assert.match(readFileSync(log, 'utf8'), /=== package: ok/);

  // Nothing drifted: the next distributed pass builds nothing.
  const again = await dist.pass();
  assert.equal(again.stats.success, 0);
  assert.equal(again.stats.skipped, 5);
});

test(
  'an agent killed mid-build: the other agent builds the port, the lost attempt is recorded interrupted, once',
  { skip, timeout: 120_000 },
  async () => {
    const { url } = await sharedRedis();
    const queue = newQueue();
    const p = project(['devel/libalpha'], distributedExecutor(url, queue));
    const list = await agents(p, url, queue, ['one', 'two'], { lockTimeout: '3s' });
    const { lines, done } = passWithLines(p);
    // Wait until an agent took the build and runs a phase, then kill that agent's whole process.
    const host = await waitFor(
      'an agent to take devel/libalpha',
      () => lines.map((l) => / devel\/libalpha: on (one|two)$/.exec(l)?.[1]).find(Boolean),
      60_000,
    );
    await waitFor(
      'a build phase on that agent',
      () => lines.some((l) => / devel\/libalpha: (fetch|checksum|extract|patch|configure|build)$/.test(l)),
      30_000,
    );
    const victim = list.find((a) => a.opts.name === host)!;
    await victim.kill('SIGKILL');
    const result = await done;
    assert.equal(result.status, 'success', lines.join('\n'));
    const builds = await p.query<{ status: string; host: string; error: string | null }>(
      `SELECT status, host, error FROM builds ORDER BY started_at`,
    );
    assert.equal(builds.length, 2, JSON.stringify(builds));
    assert.equal(builds[0]!.status, 'interrupted');
    assert.equal(builds[0]!.host, host);
    assert.match(builds[0]!.error!, /stopped answering|stopped working/);
    assert.equal(builds[1]!.status, 'success');
    assert.notEqual(builds[1]!.host, host);
    // Nothing recorded twice: one row per phase of each attempt, one port state, one run.
    const dup = await p.query(`SELECT build_id, phase, count(*) AS n FROM build_phases GROUP BY ALL HAVING count(*) > 1`);
    assert.deepEqual(dup, []);
    const ok = await p.query<{ n: bigint }>(
      `SELECT count(*) AS n FROM build_phases p JOIN builds b USING (build_id) WHERE b.status = 'success'`,
    );
    assert.equal(Number(ok[0]!.n), 8, 'the successful attempt has its 8 phases');
    assert.deepEqual(await p.query(`SELECT origin FROM port_state`), [{ origin: 'devel/libalpha' }]);
    assert.deepEqual(await p.query(`SELECT status, success FROM runs`), [{ status: 'success', success: 1 }]);
  },
);

test(
  'an agent killed right after the coordinator took its package: built once, recorded once, the job the queue hands out again is not built',
  { skip, timeout: 180_000 },
  async () => {
    const { url } = await sharedRedis();
    const queue = newQueue();
    // devel/libbeta needs devel/libalpha: the pass goes on (building libbeta) while libalpha's job comes back from the queue.
    const p = project(['devel/libbeta'], distributedExecutor(url, queue));
    const list = await agents(p, url, queue, ['one', 'two'], { lockTimeout: '3s' });
    // The coordinator finishes a build when its package arrives (before the agent completes the job in the queue): the
    // agent that sent libalpha's package is killed once it is taken, before the exchange even answers it.
    let victim: string | undefined;
    const onUploaded = DistributedExecutor.prototype.onUploaded;
    DistributedExecutor.prototype.onUploaded = function (this: DistributedExecutor, u: StoredUpload) {
      const verdict = Promise.resolve(onUploaded.call(this, u));
      const host = decodeUploadReport(u.report)?.host;
      void verdict.then((refused) => {
        if (victim || refused !== undefined || !host) return;
        victim = host;
        list.find((a) => a.opts.name === host)!.proc.kill('SIGKILL');
      });
      return verdict;
    };
    let result;
    const { lines, done } = passWithLines(p);
    try {
      result = await done;
    } finally {
      DistributedExecutor.prototype.onUploaded = onUploaded;
    }
    assert.ok(victim, 'an agent was killed on its upload');
    assert.equal(result.status, 'success', lines.join('\n'));
    const survivor = list.find((a) => a.opts.name !== victim)!;
    const builds = await p.query<{ origin: string; status: string; host: string }>(
      `SELECT origin, status, host FROM builds ORDER BY started_at`,
    );
    assert.deepEqual(builds, [
      { origin: 'devel/libalpha', status: 'success', host: victim },
      { origin: 'devel/libbeta', status: 'success', host: survivor.opts.name },
    ]);
    const dup = await p.query(`SELECT build_id, phase, count(*) AS n FROM build_phases GROUP BY ALL HAVING count(*) > 1`);
    assert.deepEqual(dup, []);
    const phases = await p.query<{ origin: string; n: bigint }>(
      `SELECT b.origin, count(*) AS n FROM build_phases p JOIN builds b USING (build_id) GROUP BY 1 ORDER BY 1`,
    );
    assert.deepEqual(
      phases.map((r) => [r.origin, Number(r.n)]),
      [
        ['devel/libalpha', 8],
        ['devel/libbeta', 9],
      ],
      'every phase of both builds (libbeta installs libalpha first)',
    );
    // The package the coordinator published is whole: its identity is the recorded one.
    const [alpha] = await p.query<{ pkgfile: string; pkg_identity: string }>(
      `SELECT pkgfile, pkg_identity FROM port_state WHERE origin = 'devel/libalpha'`,
    );
    assert.equal(packageIdentity(join(p.dir, '.portsync', 'packages', 'All', alpha!.pkgfile)).identity, alpha!.pkg_identity);
    // The dead agent's job came back from the queue (its lock expired): the other agent asked the exchange and built nothing.
    await waitFor(
      'the job to come back to the other agent',
      () => /came back from the queue, not built again/.test(survivor.output),
      30_000,
    );
    assert.deepEqual(await p.query(`SELECT count(*)::INT AS n FROM builds`), [{ n: 2 }], 'nothing recorded for it');
    assert.deepEqual(await p.query(`SELECT status, success FROM runs`), [{ status: 'success', success: 2 }]);
  },
);

test("an agent that stops answering is timed out with the build's own limits", { skip, timeout: 120_000 }, async () => {
  const { url } = await sharedRedis();
  const queue = newQueue();
  const p = project(['devel/libalpha'], `${distributedExecutor(url, queue)}\nlimits: { noOutputTimeout: 4s }`);
  const [agent] = await agents(p, url, queue, ['frozen'], { lockTimeout: '60s' });
  const { lines, done } = passWithLines(p);
  await waitFor(
    'the agent to run a phase',
    () => lines.some((l) => / devel\/libalpha: (fetch|checksum|extract|patch|configure|build)$/.test(l)),
    60_000,
  );
  // Frozen, not dead: its lock stays (60 s) and it says nothing more.
  agent!.proc.kill('SIGSTOP');
  cleanup.push(() => void agent!.proc.kill('SIGCONT'));
  const t0 = Date.now();
  const result = await done;
  agent!.proc.kill('SIGCONT');
  assert.ok(Date.now() - t0 < 20_000, 'given up within the no-output limit (and the watch interval)');
  assert.equal(result.status, 'failed');
  const port = result.ports.find((o) => o.origin === 'devel/libalpha')!;
  assert.equal(port.status, 'failed');
  assert.equal(port.transient, true, "the machine's fault, not the port's: retried next pass");
  assert.match(port.error!, /timed out: no answer from agent frozen for \d+ ms \(limits\.noOutputTimeout 4000 ms\)/);
  assert.deepEqual(await p.query(`SELECT failed_key FROM port_state`), [], 'not marked "failed at these inputs"');
});

test('Redis restarted mid-pass: the pass goes on and completes', { skip, timeout: 120_000 }, async () => {
  const r = await TestRedis.start();
  cleanup.push(() => r.stop());
  const queue = newQueue();
  const p = project(['devel/libbeta'], distributedExecutor(r.url, queue));
  await agents(p, r.url, queue, ['a1']);
  const { lines, done } = passWithLines(p);
  await waitFor('devel/libalpha to build', () => lines.some((l) => / devel\/libalpha: (extract|patch|configure|build)$/.test(l)), 60_000);
  await r.restart();
  const result = await done;
  assert.equal(result.status, 'success', lines.join('\n'));
  assert.deepEqual(await p.query(`SELECT origin, status FROM builds ORDER BY origin`), [
    { origin: 'devel/libalpha', status: 'success' },
    { origin: 'devel/libbeta', status: 'success' },
  ]);
});

test('the package exchange: an upload cut halfway, too big, forged or unauthenticated leaves nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-exchange-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const ex = await PackageExchange.start({ listen: '127.0.0.1:0', token: TOKEN, maxPackageBytes: 4096, uploads: join(dir, 'uploads') });
  cleanup.push(() => ex.close());
  const job = '11111111-2222-3333-4444-555555555555';
  const attempt = '66666666-7777-8888-9999-000000000000';
  ex.register(job, join(dir, 'repo'), []);
  const put = (headers: Record<string, string | number>, body: Buffer, cutAt?: number) =>
    new Promise<number>((resolve) => {
      const req = request(`${ex.url}/jobs/${job}/${attempt}/package`, { method: 'PUT', headers }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', () => resolve(-1));
      if (cutAt === undefined) req.end(body);
      else {
        req.write(body.subarray(0, cutAt));
        setTimeout(() => req.destroy(), 200);
      }
    });
  const body = Buffer.alloc(2000, 7);
  const { createHash } = await import('node:crypto');
  const sha = createHash('sha256').update(body).digest('hex');
  const auth = { authorization: `Bearer ${TOKEN}`, 'x-portsync-sha256': sha };
  assert.equal(await put({ ...auth, authorization: 'Bearer wrong', 'content-length': body.length }, body), 401);
  assert.equal(await put({ ...auth, 'content-length': 5000 }, Buffer.alloc(5000)), 413);
  assert.equal(await put({ ...auth, 'x-portsync-sha256': '0'.repeat(64), 'content-length': body.length }, body), 422);
  assert.equal(await put({ ...auth, 'content-length': body.length }, body, 1000), -1, 'cut halfway: the connection died');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(ex.uploaded(job, attempt), undefined);
  assert.deepEqual(readdirSync(join(dir, 'uploads')), [], 'no partial file left');
  // A whole, matching upload is kept (and only then).
  assert.equal(await put({ ...auth, 'content-length': body.length }, body), 201);
  assert.equal(statSync(ex.uploaded(job, attempt)!.file).size, 2000);
  ex.forget(job);
  assert.equal(await put({ ...auth, 'content-length': body.length }, body), 410, 'a job no longer running takes no package');
});

test('the package exchange hands each whole upload and its report to the coordinator; one it does not want is refused and removed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-exchange-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const handed: StoredUpload[] = [];
  const lost = new Set(['66666666-7777-8888-9999-000000000001']);
  const ex = await PackageExchange.start({
    listen: '127.0.0.1:0',
    token: TOKEN,
    maxPackageBytes: 4096,
    uploads: join(dir, 'uploads'),
    onUpload: (u) => {
      handed.push(u);
      return lost.has(u.attempt) ? 'that attempt was given up' : undefined;
    },
  });
  cleanup.push(() => ex.close());
  const job = '11111111-2222-3333-4444-555555555556';
  const call = (method: string, path: string, headers: Record<string, string | number> = {}, body?: Buffer) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${ex.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...headers } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  assert.equal((await call('GET', `/jobs/${job}`)).status, 410, 'not in flight before it is registered');
  ex.register(job, join(dir, 'repo'), []);
  assert.equal((await call('GET', `/jobs/${job}`)).status, 200, 'in flight');

  const body = Buffer.alloc(1500, 9);
  const { createHash } = await import('node:crypto');
  const sha = createHash('sha256').update(body).digest('hex');
  const report = encodeUploadReport({
    host: 'alpha',
    events: 12,
    result: { status: 'success', lastPhase: 'package', durationMs: 1234, package: { identity: 'a'.repeat(64), checksum: sha, shlibs: [] } },
  });
  const headers = { 'x-portsync-sha256': sha, 'x-portsync-report': report, 'content-length': body.length };
  const taken = await call('PUT', `/jobs/${job}/66666666-7777-8888-9999-000000000000/package`, headers, body);
  assert.equal(taken.status, 201, taken.text);
  assert.equal(handed.length, 1);
  assert.equal(handed[0]!.sha256, sha);
  assert.equal(handed[0]!.attempt, '66666666-7777-8888-9999-000000000000');
  assert.deepEqual(decodeUploadReport(handed[0]!.report)?.events, 12);
  assert.deepEqual(ex.uploaded(job, '66666666-7777-8888-9999-000000000000'), handed[0]);
  assert.equal(statSync(handed[0]!.file).size, 1500);

  const refused = await call('PUT', `/jobs/${job}/66666666-7777-8888-9999-000000000001/package`, headers, body);
  assert.equal(refused.status, 409);
  assert.match(refused.text, /upload refused, nothing kept: that attempt was given up/);
  assert.equal(ex.uploaded(job, '66666666-7777-8888-9999-000000000001'), undefined);
  assert.deepEqual(readdirSync(join(dir, 'uploads')), [`${job}.66666666-7777-8888-9999-000000000000.pkg`], 'only the wanted upload kept');

  ex.forget(job);
  assert.equal((await call('GET', `/jobs/${job}`)).status, 410, 'finished');
  assert.deepEqual(readdirSync(join(dir, 'uploads')), [], 'forgetting the job removes its uploads');
});

test("the package exchange serves a job's dependencies, small ones from memory while the file stays the same", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-exchange-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const repo = join(dir, 'repo');
  mkdirSync(join(repo, 'All'), { recursive: true });
  const put = (name: string, bytes: Buffer) => {
    writeFileSync(join(repo, 'All', `.${name}.tmp`), bytes);
    renameSync(join(repo, 'All', `.${name}.tmp`), join(repo, 'All', name)); // as a package is published
  };
  const small = Buffer.alloc(3000, 1);
  const big = Buffer.alloc(SERVED_FILE_MAX + 1, 2);
  put('small-1.0.pkg', small);
  put('big-1.0.pkg', big);
  const ex = await PackageExchange.start({ listen: '127.0.0.1:0', token: TOKEN, maxPackageBytes: 4096, uploads: join(dir, 'uploads') });
  cleanup.push(() => ex.close());
  const job = '11111111-2222-3333-4444-555555555557';
  ex.register(job, repo, ['small-1.0.pkg', 'big-1.0.pkg', 'gone-1.0.pkg']);
  const fetch = (pkgfile: string, into: string) =>
    fetchPackage({
      url: `${ex.url}/jobs/${job}/packages/${pkgfile}`,
      token: TOKEN,
      pkgfile,
      dir: join(dir, into),
      cache: join(dir, 'cache'),
    });
  const got = (pkgfile: string, into: string) => readFileSync(join(dir, into, pkgfile));

  for (const into of ['agent1', 'agent2']) {
    await fetch('small-1.0.pkg', into);
    await fetch('big-1.0.pkg', into);
    assert.ok(got('small-1.0.pkg', into).equals(small));
    assert.ok(got('big-1.0.pkg', into).equals(big), 'a big one is streamed whole');
  }
  // A package published again (renamed over: other bytes, the same size) is served as it is now.
  put('small-1.0.pkg', Buffer.alloc(3000, 7));
  await fetch('small-1.0.pkg', 'agent3');
  assert.ok(got('small-1.0.pkg', 'agent3').equals(Buffer.alloc(3000, 7)));
  await assert.rejects(fetch('gone-1.0.pkg', 'agent1'), /download refused \(404\): gone-1\.0\.pkg is not in the repository/);
  await assert.rejects(fetch('other-1.0.pkg', 'agent1'), /download refused \(403\): job \S+ does not install other-1\.0\.pkg/);

  // What the exchange keeps: read once while the file stays; the least recently served go beyond the size given.
  const served = new ServedPackages(5000);
  const file = join(repo, 'All', 'small-1.0.pkg');
  for (let i = 0; i < 3; i++) assert.ok('bytes' in (await served.get(file)));
  assert.equal(served.reads, 1);
  put('other-1.0.pkg', Buffer.alloc(3000, 3));
  await served.get(join(repo, 'All', 'other-1.0.pkg'));
  await served.get(file);
  assert.equal(served.reads, 3, 'two of 3000 bytes do not fit in 5000: the first went');
  assert.ok('stat' in (await served.get(join(repo, 'All', 'big-1.0.pkg'))), 'a big one is not kept');
});

test('an upload report that is malformed or not a success is not taken (the coordinator then waits for the job to complete)', () => {
  const good = { host: 'a', events: 3, result: { status: 'success', lastPhase: 'package', durationMs: 5 } };
  const enc = (x: unknown) => Buffer.from(JSON.stringify(x)).toString('base64url');
  assert.deepEqual(decodeUploadReport(enc(good)), good);
  assert.equal(decodeUploadReport(undefined), undefined);
  assert.equal(decodeUploadReport('%%%not base64 json'), undefined);
  assert.equal(decodeUploadReport(enc({ ...good, events: 0 })), undefined, 'at least the attempt event was sent');
  assert.equal(decodeUploadReport(enc({ ...good, result: { ...good.result, status: 'failed' } })), undefined);
  const pkg = { identity: 'b'.repeat(64), checksum: 'c'.repeat(64), shlibs: ['libx.so.1'] };
  assert.deepEqual(decodeUploadReport(enc({ ...good, result: { ...good.result, package: pkg } }))?.result.package, pkg);
  assert.equal(decodeUploadReport(enc({ ...good, result: { ...good.result, package: { ...pkg, identity: 'short' } } })), undefined);
  assert.equal(decodeUploadReport(enc({ ...good, result: { ...good.result, package: { ...pkg, shlibs: ['../x'] } } })), undefined);
});
