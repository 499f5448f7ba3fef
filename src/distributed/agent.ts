/**
 * `portsync agent`: a build host of a distributed portsync. It takes build jobs from the queue,
 * checks its tree is the coordinator's, downloads the job's dependency packages from the
 * coordinator, builds with the same code as a local pass (the Piscina pool of
 * src/builder/worker.ts, in this host's own sandboxes and build base), streams phases and log
 * lines back, and uploads the package. It writes no database and no repository but its own
 * scratch: the coordinator records and publishes.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, rmSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { WaitingError, type Job, type Worker } from 'bullmq';
import { LocalExecutor, type ExecutorTask } from '../builder/executor.js';
import { logPath } from '../builder/logFiles.js';
import { environmentBackend } from '../builder/sandbox/index.js';
import type { BuildTaskResult, TaskEvent } from '../builder/task.js';
import type { AgentConfig } from './agentConfig.js';
import { CoordinatorSetupError, JobPayloadError, TreeMismatchError } from './errors.js';
import { parseBuildJob, type BuildJob, type JobEvent, type JobReturn } from './job.js';
import { cancelChannel, openRedis, openWorker } from './queue.js';
import { SIMULATE_ENV, simulateBuild, simulatedBuilds } from './simulate.js';
import { EventSender } from './eventSender.js';
import { TreeCheck } from './treeCheck.js';
import { fetchPackage, jobGone, uploadPackage } from './transfer.js';

/** How often the log is read for new lines to send. */
const LOG_TICK_MS = 250;
/** Largest piece of log in one event. */
const LOG_CHUNK = 64 * 1024;

export interface AgentHandle {
  /** Resolves when the agent has stopped. */
  done: Promise<void>;
  /** Stops taking jobs; running builds are interrupted and their jobs go back to the queue for another agent. */
  stop(): Promise<void>;
}

export async function startAgent(cfg: AgentConfig, log: (line: string) => void): Promise<AgentHandle> {
  const token = process.env[cfg.tokenEnv];
  if (!token)
    throw new CoordinatorSetupError(
      cfg.tokenEnv,
      `the environment variable ${cfg.tokenEnv} (tokenEnv in ${cfg.file}) is not set: set it to the token the coordinator has in its executor.tokenEnv`,
    );
  mkdirSync(cfg.paths.buildBase, { recursive: true });
  const stale = await environmentBackend(cfg.backend).cleanupStale(cfg.paths.buildBase);
  if (stale.removed.length)
    log(`removed ${stale.removed.length} stale worker director${stale.removed.length === 1 ? 'y' : 'ies'} left by an earlier run`);
  // A benchmark's simulated agent (simulate.ts) builds nothing: no worker threads.
  const simulated = simulatedBuilds();
  const executor = simulated ? undefined : new LocalExecutor(cfg.workers, cfg.workers, log);
  const freeSlots = Array.from({ length: cfg.workers }, (_, i) => cfg.workers - 1 - i);
  /** Running jobs: how to interrupt each. */
  const running = new Map<string, AbortController>();
  const treeCheck = new TreeCheck(cfg.portsTree);
  let stopping = false;

  const subscriber = openRedis(cfg.redis);
  subscriber.on('error', () => {});
  await subscriber.subscribe(cancelChannel(cfg.queue));
  subscriber.on('message', (_channel: string, jobId: string) => running.get(jobId)?.abort());

  const processor = async (job: Job, token?: string): Promise<JobReturn> => {
    const events = new EventSender((p) => job.updateProgress(p));
    try {
      return await work(job, events, token);
    } finally {
      events.flush(); // the job's result must not overtake its events
    }
  };
  const work = async (job: Job, events: EventSender, token?: string): Promise<JobReturn> => {
    const attempt = randomUUID();
    const emit = (e: JobEvent) => events.send(e);
    const result = (r: BuildTaskResult): JobReturn => ({ attempt, host: cfg.name, result: r });
    const refuse = (error: string): JobReturn => result({ status: 'failed', lastPhase: 'setup', error, transient: true, durationMs: 0 });
    emit({ type: 'attempt', attempt, host: cfg.name });
    let spec: BuildJob;
    try {
      spec = parseBuildJob(String(job.id), job.data);
      if (spec.backend !== cfg.backend)
        throw new JobPayloadError(String(job.id), 'backend', `is ${spec.backend}; this agent builds with ${cfg.backend} (${cfg.file})`);
      await treeCheck.check(spec);
    } catch (e) {
      if (!(e instanceof JobPayloadError || e instanceof TreeMismatchError)) throw e;
      log(`refused job ${job.id}: ${e.message}`);
      return refuse(`agent ${cfg.name}: ${e.message}`);
    }
    // A job the queue hands out again (its agent stopped before completing it) may have been finished already by the
    // coordinator, which finishes a build when its package arrives: the exchange says so, and it is not built twice.
    const gone = job.attemptsStarted > 1 ? await jobGone(spec.exchange, spec.buildId, tokenOf()) : undefined;
    if (gone) {
      log(`job ${job.id} (${spec.origin}) came back from the queue, not built again: ${gone}`);
      return refuse(`agent ${cfg.name}: not built again: ${gone}`);
    }
    const slot = freeSlots.pop()!;
    const interrupt = new AbortController();
    running.set(String(job.id), interrupt);
    const jobDir = join(cfg.paths.buildBase, 'jobs', String(slot));
    const packages = join(jobDir, 'packages');
    const buildLog = logPath(cfg.paths.logs, spec.origin);
    const alive = setInterval(() => emit({ type: 'alive', attempt }), Math.max(250, Math.min(5000, spec.limits.noOutputTimeoutMs / 4)));
    let tail: LogTail | undefined;
    try {
      rmSync(jobDir, { recursive: true, force: true });
      for (const i of spec.installs) {
        const url = `${spec.exchange}/jobs/${spec.buildId}/packages/${encodeURIComponent(i.pkgfile)}`;
        try {
          await fetchPackage({
            url,
            token: tokenOf(),
            pkgfile: i.pkgfile,
            ...(i.checksum ? { checksum: i.checksum } : {}),
            dir: join(packages, 'All'),
            cache: join(cfg.paths.buildBase, 'package-cache'),
          });
        } catch (e) {
          return refuse(`agent ${cfg.name}: dependency ${i.pkgfile}: ${(e as Error).message}`);
        }
      }
      const task: ExecutorTask = {
        origin: spec.origin,
        dir: spec.dir,
        flavor: spec.flavor,
        pkgname: spec.pkgname,
        version: spec.version,
        pkgfile: spec.pkgfile,
        buildId: spec.buildId,
        buildKey: spec.buildKey,
        backend: spec.backend,
        slot,
        paths: { portsTree: cfg.portsTree, distfiles: cfg.paths.distfiles, packages, buildBase: cfg.paths.buildBase },
        // Paths into the coordinator's tree are paths into this host's tree.
        make: {
          ...spec.make,
          env: Object.fromEntries(
            Object.entries(spec.make.env).map(([k, v]) => [
              k,
              v
                .split(':')
                .map((p) => (p === '@tree' || p.startsWith('@tree/') ? cfg.portsTree + p.slice(5) : p))
                .join(':'),
            ]),
          ),
        },
        phases: spec.phases,
        installs: spec.installs,
        limits: spec.limits,
        logPath: buildLog,
      };
      tail = new LogTail(buildLog, (offset, text) => emit({ type: 'log', attempt, offset, text }));
      const onEvent = (e: TaskEvent) => {
        if (e.type === 'phase-start' || e.type === 'phase-end') {
          tail?.flush();
          emit({ type: 'task', attempt, event: e });
        }
      };
      const r = executor ? await executor.run(task, onEvent, interrupt.signal) : simulateBuild(task, onEvent);
      tail.stop();
      if (stopping && r.status === 'interrupted' && token) {
        // This agent is stopping, not the pass: the job goes back to the queue for another agent.
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (r.status === 'success' && spec.phases.includes('package')) {
        try {
          await uploadPackage({
            url: `${spec.exchange}/jobs/${spec.buildId}/${attempt}/package`,
            token: tokenOf(),
            file: join(packages, 'All', spec.pkgfile),
            pkgfile: spec.pkgfile,
            // The build hashed it already (PackageIdentity.checksum is the file's SHA-256); the exchange checks it.
            ...(r.package?.checksum ? { sha256: r.package.checksum } : {}),
            // The coordinator finishes the build once it has the package and every event sent before it (they went out
            // first, on the job's connection), then answers. Should this agent die before they are in the queue, the job's
            // lock runs out: the attempt is recorded interrupted and the job retried.
            report: { host: cfg.name, events: events.sent, result: { ...r, status: 'success' } },
          });
        } catch (e) {
          // Refused by the coordinator (its checks), or never there whole: the build is not this agent's success.
          log(`job ${job.id} (${spec.origin}): ${(e as Error).message}`);
          return result({ ...r, status: 'failed', error: `agent ${cfg.name}: ${(e as Error).message}`, transient: true });
        }
      }
      return result(r);
    } finally {
      clearInterval(alive);
      tail?.stop();
      running.delete(String(job.id));
      rmSync(jobDir, { recursive: true, force: true });
      freeSlots.push(slot);
    }
  };
  const tokenOf = () => token;

  const worker: Worker = openWorker(cfg.redis, cfg.queue, processor, { concurrency: cfg.workers, lockDurationMs: cfg.lockTimeoutMs });
  worker.on('error', (e) => log(`warning: queue: ${e.message}`));
  worker.on('failed', (job, e) => {
    if (!(e instanceof WaitingError)) log(`job ${job?.id ?? '?'} failed: ${e.message}`);
  });
  await worker.waitUntilReady();
  if (simulated) log(`agent ${cfg.name}: ${SIMULATE_ENV}=instant: BENCHMARK MODE, builds are simulated and their packages are empty`);
  log(
    `agent ${cfg.name}: taking build jobs from queue ${cfg.queue} with ${cfg.workers} worker${cfg.workers === 1 ? '' : 's'} (${cfg.backend} backend, tree ${cfg.portsTree})`,
  );

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const stop = async () => {
    if (stopping) return done;
    stopping = true;
    for (const a of running.values()) a.abort();
    await worker.close();
    await executor?.close();
    subscriber.disconnect();
    resolveDone();
  };
  return { done, stop };
}

/** Follows a build log as it is written, handing on what was added (by offset: a resend is harmless). */
class LogTail {
  private offset = 0;
  private readonly timer: NodeJS.Timeout;
  private fd: number | undefined;
  constructor(
    private readonly file: string,
    private readonly send: (offset: number, text: string) => void,
  ) {
    this.timer = setInterval(() => this.flush(), LOG_TICK_MS);
  }
  flush(): void {
    try {
      this.fd ??= openSync(this.file, 'r');
      const size = fstatSync(this.fd).size;
      while (this.offset < size) {
        const buf = Buffer.alloc(Math.min(LOG_CHUNK, size - this.offset));
        const n = readSync(this.fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        // Cut at the last newline (or take it all when there is none): a character is never split.
        const nl = buf.lastIndexOf(10, n - 1);
        const take = nl >= 0 && this.offset + n < size ? nl + 1 : n;
        this.send(this.offset, buf.subarray(0, take).toString('utf8'));
        this.offset += take;
      }
    } catch {
      /* not created yet */
    }
  }
  private stopped = false;
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
