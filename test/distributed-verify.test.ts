/**
 * `executor.verifyPackages` for real: a redis-server of the test's own, the coordinator a reconcile
 * pass in this process, and an agent that lies about the package it uploads. The liar is a BullMQ
 * worker of this test on the pass's queue that goes the agent's own way (parseBuildJob, its
 * EventSender for the attempt event, transfer.ts uploadPackage over HTTP to the real exchange
 * with the token) but builds nothing: it uploads a real package of the port, built beforehand by
 * a local pass, with a report whose identity or shared libraries are not the package's. Only the
 * report lies; the bytes are the ones it announces, as an agent that misreads packages would send.
 * The liar hears the coordinator's verdict as the answer to its upload.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import { loadDesiredState } from '../src/config/load.js';
import { UploadRefusedError } from '../src/distributed/errors.js';
import { EventSender } from '../src/distributed/eventSender.js';
import { parseBuildJob, type JobReturn } from '../src/distributed/job.js';
import { openWorker } from '../src/distributed/queue.js';
import { uploadPackage } from '../src/distributed/transfer.js';
import { packageIdentity } from '../src/fingerprint/packageIdentity.js';
import type { PackageIdentity } from '../src/fingerprint/types.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject, rootMissing } from './helpers/project.js';
import { TOKEN, TestRedis, distributedExecutor, redisMissing } from './helpers/distributed.js';

const skip = bmakeMissing() ?? rootMissing() ?? redisMissing();
if (skip) console.log(`# skipping the verifyPackages tests: ${skip}`);
process.env.PORTSYNC_AGENT_TOKEN = TOKEN;

const PORT = 'devel/libalpha';
const LIAR = 'liar';

/** What the tests leave behind (projects, the liar's workers), undone in reverse at the end. */
const cleanup: (() => Promise<void> | void)[] = [];
let redis: TestRedis | undefined;
before(async () => {
  if (!skip) redis = await TestRedis.start();
});
after(async () => {
  for (const f of cleanup.reverse()) await f();
  await redis?.stop();
});
let queues = 0;
const newQueue = () => `verify${process.pid}-${++queues}`;

/** The real package of PORT, built once by a local pass: the repository (<packages>/All) the liar uploads from. */
let built: Promise<string> | undefined;
function realPackages(): Promise<string> {
  built ??= (async () => {
    const local = new TestProject({ ports: [PORT] });
    cleanup.push(() => local.remove());
    const r = await local.pass();
    assert.equal(r.status, 'success', r.lines.join('\n'));
    return local.packages;
  })();
  return built;
}

interface Upload {
  /** What the uploaded package is (read by the liar). */
  real: PackageIdentity;
  /** What the liar's report said it is. */
  reported: PackageIdentity;
  /** The coordinator's answer to the upload: taken, or the error it was refused with. */
  answer: Promise<'taken' | Error>;
}

/**
 * An agent on `queue` that takes each job and uploads the job's package from `packages`, its
 * report giving what `report` makes of the package's real identity. Returns its uploads so far.
 */
function lyingAgent(url: string, queue: string, packages: string, report: (real: PackageIdentity) => PackageIdentity): Upload[] {
  const uploads: Upload[] = [];
  const processor = async (job: Job): Promise<JobReturn> => {
    const spec = parseBuildJob(String(job.id), job.data);
    const attempt = randomUUID();
    const events = new EventSender((p) => job.updateProgress(p));
    events.send({ type: 'attempt', attempt, host: LIAR });
    const file = join(packages, spec.pkgfile);
    const real = packageIdentity(file);
    const pkg = report(real);
    const result = { status: 'success' as const, lastPhase: 'package', durationMs: 1, package: pkg };
    const answer = uploadPackage({
      url: `${spec.exchange}/jobs/${spec.buildId}/${attempt}/package`,
      token: TOKEN,
      file,
      pkgfile: spec.pkgfile,
      sha256: pkg.checksum,
      report: { host: LIAR, events: events.sent, result },
    }).then(
      () => 'taken' as const,
      (e: Error) => e,
    );
    uploads.push({ real, reported: pkg, answer });
    await answer;
    return { attempt, host: LIAR, result };
  };
  const worker = openWorker(url, queue, processor, { concurrency: 1, lockDurationMs: 30_000 });
  worker.on('error', () => {});
  cleanup.push(() => worker.close());
  return uploads;
}

/** A well-formed identity that is not `id`. */
const otherThan = (id: string) => (id[0] === '0' ? '1' : '0') + id.slice(1);

/**
 * One pass of a project of PORT whose only agent is the liar; `verify`: with `verifyPackages: true`,
 * else the default. Returns the pass, and the liar's one upload.
 */
async function passWithLiar(verify: 'verify' | 'default', report: (real: PackageIdentity) => PackageIdentity) {
  const { url } = redis!;
  const packages = await realPackages();
  const queue = newQueue();
  const executor = distributedExecutor(url, queue);
  const p = new TestProject({ ports: [PORT], extra: verify === 'verify' ? executor.replace(/ }$/, ', verifyPackages: true }') : executor });
  cleanup.push(() => p.remove());
  const uploads = lyingAgent(url, queue, packages, report);
  const result = await p.pass();
  assert.equal(uploads.length, 1, `the liar took the job and uploaded once: ${result.lines.join('\n')}`);
  const { answer, ...upload } = uploads[0]!;
  return { p, result, ...upload, answer: await answer };
}

const builds = (p: TestProject) =>
  p.query<{ origin: string; status: string; host: string; pkg_identity: string | null; error: string | null }>(
    `SELECT origin, status, host, pkg_identity, error FROM builds ORDER BY started_at`,
  );
/** The published packages of a project, by file name. */
const published = (p: TestProject) => (existsSync(p.packages) ? readdirSync(p.packages).filter((n) => !n.startsWith('.')) : []);

test(
  'verifyPackages: an upload whose report names another identity is refused: the build fails, nothing is published',
  { skip, timeout: 180_000 },
  async () => {
    const { p, result, reported, real, answer } = await passWithLiar('verify', (real) => ({ ...real, identity: otherThan(real.identity) }));
    const lie = reported.identity;
    assert.notEqual(lie, real.identity);
    assert.equal(result.status, 'failed', result.lines.join('\n'));
    const port = result.ports.find((o) => o.origin === PORT)!;
    assert.equal(port.status, 'failed');
    assert.equal(port.transient, true, "the agent's fault, not the port's: built again next pass");
    const mismatch = `its identity is ${real.identity.slice(0, 12)}…, not the ${lie.slice(0, 12)}… its agent reported`;
    assert.ok(port.error?.includes(mismatch), port.error);
    // The agent is told, in the answer to its upload, what the coordinator recorded.
    assert.ok(answer instanceof UploadRefusedError, `the upload was answered: ${String(answer)}`);
    assert.ok(answer.pkgfile.startsWith(`${port.pkgname}.`), answer.pkgfile);
    assert.ok(answer.reason.includes(mismatch), answer.reason);
    assert.match(answer.reason, /^upload refused, nothing kept: the package agent liar uploaded cannot be published/);
    assert.match(port.error!, /^the package agent liar uploaded cannot be published: read here \(executor\.verifyPackages\)/);
    assert.deepEqual(published(p), [], 'nothing in the repository');
    const { buildBase } = (await loadDesiredState(p.config)).paths;
    assert.deepEqual(readdirSync(join(buildBase, 'distributed', 'uploads')), [], 'the refused upload is removed');
    const rows = await builds(p);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.status, 'failed');
    assert.equal(rows[0]!.host, LIAR);
    assert.equal(rows[0]!.pkg_identity, null);
    assert.ok(rows[0]!.error?.includes(mismatch), rows[0]!.error ?? '');
    assert.deepEqual(await p.query(`SELECT origin FROM port_state`), [], 'no state recorded for the port');
  },
);

test('verifyPackages: an upload whose report has the wrong shared libraries is refused too', { skip, timeout: 180_000 }, async () => {
  const { p, result, reported, real, answer } = await passWithLiar('verify', (real) => ({
    ...real,
    shlibs: [...real.shlibs, 'libnotthere.so.9'],
  }));
  assert.equal(reported.identity, real.identity, 'only the shared libraries lie');
  assert.equal(result.status, 'failed', result.lines.join('\n'));
  assert.ok(answer instanceof UploadRefusedError && answer.reason.includes('libnotthere.so.9'), String(answer));
  const port = result.ports.find((o) => o.origin === PORT)!;
  assert.ok(
    port.error?.includes('its shared libraries differ from those (reported libnotthere.so.9, which it does not have) its agent reported'),
    port.error,
  );
  assert.deepEqual(published(p), []);
  assert.deepEqual(
    (await builds(p)).map((b) => [b.status, b.pkg_identity]),
    [['failed', null]],
  );
});

test('verifyPackages: a true report is published and recorded with the identity read here', { skip, timeout: 180_000 }, async () => {
  const { p, result, reported, real, answer } = await passWithLiar('verify', (real) => real);
  assert.equal(result.status, 'success', result.lines.join('\n'));
  assert.equal(answer, 'taken');
  assert.deepEqual(reported, real);
  const [pkgfile] = published(p);
  assert.ok(pkgfile, 'published');
  assert.equal(packageIdentity(join(p.packages, pkgfile)).identity, real.identity);
  const rows = await builds(p);
  assert.deepEqual(
    rows.map((b) => [b.status, b.host, b.pkg_identity]),
    [['success', LIAR, real.identity]],
  );
  assert.deepEqual(await p.query(`SELECT pkgfile, pkg_identity FROM port_state`), [{ pkgfile, pkg_identity: real.identity }]);
});

test(
  "without verifyPackages (the default) the agent's reported identity is recorded as is: the package is not read",
  { skip, timeout: 180_000 },
  async () => {
    const { p, result, reported, real, answer } = await passWithLiar('default', (real) => ({
      ...real,
      identity: otherThan(real.identity),
    }));
    assert.equal(result.status, 'success', result.lines.join('\n'));
    assert.equal(answer, 'taken', 'not read here: nothing to refuse');
    const lie = reported.identity;
    assert.notEqual(lie, real.identity);
    const [pkgfile] = published(p);
    assert.ok(pkgfile, 'published');
    // What was published is the real package; what was recorded is what the agent said of it.
    assert.equal(packageIdentity(join(p.packages, pkgfile)).identity, real.identity);
    assert.deepEqual(
      (await builds(p)).map((b) => [b.status, b.pkg_identity]),
      [['success', lie]],
    );
    assert.deepEqual(await p.query(`SELECT pkg_identity FROM port_state`), [{ pkg_identity: lie }]);
  },
);

test(
  "a package that arrives before its attempt's first event came through the queue is published once that event is in, without waiting for the job's completion",
  { skip, timeout: 180_000 },
  async () => {
    const { url } = redis!;
    const packages = await realPackages();
    const queue = newQueue();
    const p = new TestProject({ ports: [PORT], extra: distributedExecutor(url, queue) });
    cleanup.push(() => p.remove());
    const { buildBase } = (await loadDesiredState(p.config)).paths;
    // An agent whose one event is still on its way when its package arrives (over HTTP, faster
    // than the queue under load); it completes the job in the queue only seconds later.
    let completedAt = 0;
    let answered: Promise<unknown> | undefined;
    const processor = async (job: Job): Promise<JobReturn> => {
      const spec = parseBuildJob(String(job.id), job.data);
      const attempt = randomUUID();
      const file = join(packages, spec.pkgfile);
      const result = { status: 'success' as const, lastPhase: 'package', durationMs: 1, package: packageIdentity(file) };
      answered = uploadPackage({
        url: `${spec.exchange}/jobs/${spec.buildId}/${attempt}/package`,
        token: TOKEN,
        file,
        pkgfile: spec.pkgfile,
        sha256: result.package.checksum,
        report: { host: LIAR, events: 1, result },
      }).then(
        () => 'taken',
        (e: unknown) => e,
      );
      // The event is sent once the exchange has stored the package (and holds its answer until the event is in).
      const stored = join(buildBase, 'distributed', 'uploads', `${spec.buildId}.${attempt}.pkg`);
      for (let i = 0; i < 300 && !existsSync(stored); i++) await sleep(20);
      assert.ok(existsSync(stored), 'the package arrived first');
      const events = new EventSender((prog) => job.updateProgress(prog));
      events.send({ type: 'attempt', attempt, host: LIAR });
      await events.settled();
      await answered;
      await sleep(3000);
      completedAt = Date.now();
      return { attempt, host: LIAR, result };
    };
    const worker = openWorker(url, queue, processor, { concurrency: 1, lockDurationMs: 30_000 });
    worker.on('error', () => {});
    cleanup.push(() => worker.close());
    const result = await p.pass();
    assert.equal(result.status, 'success', result.lines.join('\n'));
    const [b] = await p.query<{ status: string; host: string; finished: number }>(
      `SELECT status, host, epoch_ms(finished_at) AS finished FROM builds`,
    );
    assert.equal(b!.status, 'success');
    assert.equal(b!.host, LIAR);
    assert.equal(await answered, 'taken', 'answered once published');
    assert.ok(
      completedAt === 0 || Number(b!.finished) < completedAt,
      `finished when its package and event were in (${b!.finished}), not at the job's completion (${completedAt})`,
    );
    assert.ok(published(p).includes(result.ports[0]!.pkgname + '.pkg') || published(p).length === 1, published(p).join(' '));
  },
);
