/**
 * The coordinator's executor for `executor.kind: distributed`: each build the scheduler starts
 * becomes a BullMQ job that an agent takes; what the agent reports (its host, phases, log lines)
 * comes back as job progress and is handed to the scheduler as the local pool's events would be.
 * The coordinator stays the only writer of the database (the scheduler records) and of the
 * repository (an uploaded package is checked here and published by this process).
 *
 * A successful build is finished when its package arrives at the exchange with the attempt's
 * report (job.ts UploadReport) and every event the attempt sent before it is in — not when the
 * job's completion comes round through the queue (a few ms later): that is only the fallback for
 * an upload without a report. The upload is answered then, with what the coordinator made of it
 * (published, or refused and why), so that the agent reports what was recorded. A job finished
 * this way is no longer watched: should its agent die before completing it in the queue, the
 * queue's stalled check hands it to another agent, which asks the exchange first (GET
 * /jobs/<id>: 410) and builds nothing; a late completed, failed or stalled event for it finds no
 * flight and changes nothing. Should it die after its upload but before its events are in the
 * queue, its attempt is lost (stalled) and the upload dropped: recorded interrupted, retried.
 *
 * Faults: an agent that dies loses its job lock; another agent's stalled check puts the job back
 * and the next attempt is a new build record (the lost one is recorded interrupted). A job whose
 * agent stops answering is timed out with the build's own limits (no event for noOutputTimeout,
 * one phase longer than phaseTimeout). A job Redis lost (restarted without its data) is queued again.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { LocalExecutor, type BuildExecutor, type ExecutorTask } from '../builder/executor.js';
import { movePackage } from '../builder/publish.js';
import type { BuildTaskResult, TaskEvent } from '../builder/task.js';
import type { ExecutorConfig } from '../config/executor.js';
import type { DesiredState } from '../config/types.js';
import { inputFiles } from '../fingerprint/buildKey.js';
import { packageIdentity } from '../fingerprint/packageIdentity.js';
import { portableValue } from '../fingerprint/portable.js';
import type { BuildKeyParts, PackageIdentity } from '../fingerprint/types.js';
import { CoordinatorSetupError } from './errors.js';
import { PackageExchange, type StoredUpload, type UploadVerdict } from './exchange.js';
import {
  JOB_FORMAT,
  decodeUploadReport,
  type BuildJob,
  type JobEvent,
  type JobReturn,
  type TreeIdentity,
  type UploadReport,
} from './job.js';
import { JOB_NAME, cancelChannel, jobPriority, openQueue, openQueueEvents, openRedis } from './queue.js';

/** What the coordinator knows of each port it may dispatch (from the plan). */
export interface PortInputs {
  crc: string;
  keyParts: BuildKeyParts;
}

export interface DistributedOptions {
  state: DesiredState;
  /** The tree the pass read (commit mode: portsync's checkout). */
  tree: string;
  gitCommit: string | null;
  runId: string;
  ports: ReadonlyMap<string, PortInputs>;
  builds: number;
  warn: (line: string) => void;
}

/** How often the coordinator looks for jobs that timed out or that Redis lost. */
const WATCH_MS = 1000;
/** A phase may overrun its limit by this much on the agent before the coordinator gives up on it (the agent's own kill is reported first). */
const PHASE_GRACE_MS = 5000;
/** After a pass is stopped, how long a running remote build has to report itself interrupted. */
const CANCEL_GRACE_MS = 30_000;
const READY_TIMEOUT_MS = 15_000;
/** Every this many watches, jobs are looked up in Redis. */
const LOST_CHECK_TICKS = 3;

interface Flight {
  task: ExecutorTask;
  job: BuildJob;
  onEvent: (e: TaskEvent) => void;
  resolve: (r: BuildTaskResult) => void;
  /** The attempt running now (an agent took the job), its host, its last sign of life. */
  attempt?: string;
  host?: string;
  lastHeard: number;
  phase?: { name: string; since: number };
  lastPhase: string;
  lost: Set<string>;
  logFd?: number;
  /** Checks in a row that found the job missing from Redis. */
  missing: number;
  /** Events of the running attempt received so far. */
  heard: number;
  /**
   * The running attempt's package, arrived with its report: published once `heard` reaches the
   * events the report counts; `answer` gives the exchange the verdict the agent is waiting for.
   */
  upload?: { stored: StoredUpload; report: UploadReport; answer: (verdict: UploadVerdict) => void };
  startedAt: number;
  done: boolean;
}

export class DistributedExecutor implements BuildExecutor {
  readonly slots: number;
  readonly description: string;
  private readonly flights = new Map<string, Flight>();
  private localBusy = 0;
  private readonly timer: NodeJS.Timeout;
  private checking = false;
  private ticks = 0;

  private constructor(
    private readonly opts: DistributedOptions,
    private readonly config: ExecutorConfig & { redis: string },
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly publisher: Redis,
    readonly exchange: PackageExchange,
    private readonly local: LocalExecutor | undefined,
  ) {
    this.slots = config.localWorkers + config.maxInFlight;
    const alsoLocal = config.localWorkers ? ` and ${config.localWorkers} local worker${config.localWorkers === 1 ? '' : 's'}` : '';
    this.description = `on the agents of queue ${config.queue} at ${redactUrl(config.redis)}${alsoLocal} (up to ${config.maxInFlight} queued at once)`;
    events.on('progress', ({ jobId, data }) => {
      for (const e of Array.isArray(data) ? (data as JobEvent[]) : [data as JobEvent]) this.onProgress(jobId, e);
    });
    events.on('stalled', ({ jobId }) => this.onStalled(jobId));
    events.on('completed', ({ jobId, returnvalue }) => this.onCompleted(jobId, returnvalue as unknown));
    events.on('failed', ({ jobId, failedReason }) => this.onFailed(jobId, failedReason));
    events.on('error', () => {}); // connection errors: ioredis reconnects; lost jobs are found by the watch
    queue.on('error', () => {});
    this.timer = setInterval(() => void this.watch(), WATCH_MS);
  }

  static async start(opts: DistributedOptions): Promise<DistributedExecutor> {
    let executor: DistributedExecutor | undefined;
    const config = opts.state.executor!;
    if (!config.redis) throw new CoordinatorSetupError('executor.redis', 'not set in builds.yaml');
    const token = process.env[config.tokenEnv];
    if (!token)
      throw new CoordinatorSetupError(
        config.tokenEnv,
        `the environment variable ${config.tokenEnv} (executor.tokenEnv) is not set: set it to a secret shared with the agents (e.g. openssl rand -hex 32), in the coordinator's and every agent's environment`,
      );
    const redis = config.redis;
    const queue = openQueue(redis, config.queue);
    const events = openQueueEvents(redis, config.queue);
    const publisher = openRedis(redis);
    const closeAll = async () => {
      await Promise.allSettled([queue.close(), events.close()]);
      publisher.disconnect();
    };
    queue.on('error', () => {});
    events.on('error', () => {});
    publisher.on('error', () => {});
    try {
      await withTimeout(
        Promise.all([queue.waitUntilReady(), events.waitUntilReady()]),
        READY_TIMEOUT_MS,
        `no answer from ${redactUrl(redis)} in ${READY_TIMEOUT_MS / 1000} s`,
      );
    } catch (e) {
      await closeAll();
      throw new CoordinatorSetupError(
        `Redis at ${redactUrl(redis)}`,
        `cannot reach the queue's server (${(e as Error).message}); start redis-server or valkey-server there, or fix executor.redis`,
        { cause: e },
      );
    }
    let exchange: PackageExchange;
    try {
      exchange = await PackageExchange.start({
        listen: config.listen,
        ...(config.url ? { url: config.url } : {}),
        token,
        maxPackageBytes: config.maxPackageBytes,
        uploads: join(opts.state.paths.buildBase, 'distributed', 'uploads'),
        // (undefined: taken; a string: why not)
        onUpload: (u) => (executor ? executor.onUploaded(u) : 'the pass is not dispatching builds yet'),
      });
    } catch (e) {
      await closeAll();
      throw new CoordinatorSetupError(
        `executor.listen ${config.listen}`,
        `cannot serve packages to agents there: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const agents = await queue.getWorkersCount().catch(() => -1);
    if (agents === 0 && config.localWorkers === 0)
      opts.warn(
        `warning: no agent is connected to queue ${config.queue} on ${redactUrl(redis)}; the builds wait until one starts (portsync agent --config agent.yaml)`,
      );
    const local = config.localWorkers > 0 ? new LocalExecutor(config.localWorkers, opts.builds, opts.warn) : undefined;
    executor = new DistributedExecutor(opts, { ...config, redis }, queue, events, publisher, exchange, local);
    return executor;
  }

  async run(task: ExecutorTask, onEvent: (e: TaskEvent) => void, signal: AbortSignal): Promise<BuildTaskResult> {
    // The coordinator's own workers take a build when one is free (the scheduler hands out the most-waited-for first).
    if (this.local && this.localBusy < this.local.slots) {
      this.localBusy++;
      try {
        return await this.local.run(task, onEvent, signal);
      } finally {
        this.localBusy--;
      }
    }
    const job = this.jobFor(task);
    const result = new Promise<BuildTaskResult>((resolve) => {
      const flight: Flight = {
        task,
        job,
        onEvent,
        resolve,
        lastHeard: Date.now(),
        lastPhase: 'queued',
        lost: new Set(),
        missing: 0,
        heard: 0,
        startedAt: Date.now(),
        done: false,
      };
      this.flights.set(task.buildId, flight);
    });
    this.exchange.register(
      task.buildId,
      task.paths.packages,
      task.installs.map((i) => i.pkgfile),
    );
    const onAbort = () => void this.cancel(task.buildId);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.enqueue(job, task.waiting ?? 0);
    } catch (e) {
      this.finish(task.buildId, {
        status: 'failed',
        lastPhase: 'queued',
        error: `cannot queue the build on ${redactUrl(this.config.redis)}: ${(e as Error).message}`,
        transient: true,
        durationMs: 0,
      });
    }
    if (signal.aborted) onAbort();
    try {
      return await result;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const id of this.flights.keys())
      this.finish(id, { status: 'interrupted', lastPhase: 'queued', error: 'the pass ended', durationMs: 0 });
    await Promise.allSettled([this.events.close(), this.queue.close(), this.exchange.close(), this.local?.close()]);
    this.publisher.disconnect();
  }

  private jobFor(task: ExecutorTask): BuildJob {
    const port = this.opts.ports.get(task.origin);
    if (!port) throw new CoordinatorSetupError(task.origin, 'not a port of the plan (internal)');
    const { state, tree } = this.opts;
    const identity: TreeIdentity =
      state.portsTree.source === 'commit' && this.opts.gitCommit
        ? { kind: 'commit', commit: this.opts.gitCommit }
        : { kind: 'worktree', portCrc: port.crc, files: inputFiles(port.keyParts) };
    // Paths into the tree are the agent's own tree there (@tree, as in build keys).
    const env = Object.fromEntries(Object.entries(task.make.env).map(([k, v]) => [k, portableValue(v, state, tree)]));
    return {
      format: JOB_FORMAT,
      runId: this.opts.runId,
      origin: task.origin,
      dir: task.dir,
      flavor: task.flavor,
      pkgname: task.pkgname,
      version: task.version,
      pkgfile: task.pkgfile,
      buildId: task.buildId,
      buildKey: task.buildKey,
      backend: task.backend,
      make: { ...task.make, env },
      phases: task.phases,
      installs: task.installs,
      limits: task.limits,
      tree: identity,
      exchange: this.exchange.url,
    };
  }

  private async enqueue(job: BuildJob, waiting: number): Promise<void> {
    await this.queue.add(JOB_NAME, job, {
      jobId: job.buildId,
      priority: jobPriority(waiting),
      attempts: 1,
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  private onProgress(jobId: string, e: JobEvent): void {
    const f = this.flights.get(jobId);
    if (!f || f.done || typeof e !== 'object' || e === null || f.lost.has(e.attempt)) return;
    if (e.attempt !== f.attempt) {
      // A new attempt: the one before it (if any) is lost.
      if (f.attempt) this.loseAttempt(f, `agent ${f.host ?? '?'} stopped working on it; the job went to another agent`);
      f.attempt = e.attempt;
      f.host = e.type === 'attempt' ? e.host : '?';
      f.phase = undefined;
      f.heard = 0;
      // (Its package may have come over HTTP before its first event came through the queue: kept.)
      if (f.upload && f.upload.stored.attempt !== e.attempt)
        this.dropUpload(f, `attempt ${f.upload.stored.attempt} of job ${jobId} is not the one running now`);
      this.openLog(f);
      f.onEvent({ type: 'host', host: f.host });
    }
    f.lastHeard = Date.now();
    f.heard++;
    if (e.type === 'task') {
      if (e.event.type === 'phase-start') f.phase = { name: e.event.phase, since: Date.now() };
      else f.phase = undefined;
      f.lastPhase = e.event.phase;
      f.onEvent(e.event);
    } else if (e.type === 'log' && f.logFd !== undefined && typeof e.text === 'string') {
      const buf = Buffer.from(e.text, 'utf8');
      try {
        writeSync(f.logFd, buf, 0, buf.length, e.offset);
      } catch {
        /* the log is a copy for reading; the build goes on */
      }
    }
    if (f.upload) this.publishWhenHeard(f);
  }

  private onStalled(jobId: string): void {
    const f = this.flights.get(jobId);
    if (!f || f.done || !f.attempt) return;
    this.loseAttempt(
      f,
      `agent ${f.host ?? '?'} stopped answering (its job lock expired: killed, or cut off from Redis); retried on another agent`,
    );
  }

  /** The running attempt is gone: recorded interrupted by the scheduler; a later attempt is a new build. */
  private loseAttempt(f: Flight, reason: string): void {
    if (!f.attempt) return;
    f.lost.add(f.attempt);
    f.attempt = undefined;
    this.dropUpload(f, `its attempt was given up: ${reason}`);
    f.phase = undefined;
    f.lastHeard = Date.now();
    f.onEvent({ type: 'retry', reason, lastPhase: f.lastPhase });
  }

  /**
   * The exchange stored an attempt's package (whole, its bytes matching the agent's SHA-256):
   * refused when the attempt is lost, taken for onCompleted without a report, else checked and
   * published as soon as the attempt's events are all in (now, usually: they were sent before
   * it) — the verdict the agent is answered with.
   */
  onUploaded(u: StoredUpload): UploadVerdict | Promise<UploadVerdict> {
    const f = this.flights.get(u.jobId);
    if (!f || f.done) return `job ${u.jobId} is finished`;
    if (f.lost.has(u.attempt)) return `attempt ${u.attempt} of job ${u.jobId} was given up (its agent stopped answering) and retried`;
    f.lastHeard = Date.now();
    const report = decodeUploadReport(u.report);
    if (!report) return undefined;
    return new Promise<UploadVerdict>((answer) => {
      if (f.upload) this.dropUpload(f, `another package of job ${u.jobId} arrived after it`);
      f.upload = { stored: u, report, answer };
      this.publishWhenHeard(f);
    });
  }

  /** The waiting upload is not published (or is: `why` undefined): its agent is told. */
  private dropUpload(f: Flight, why: UploadVerdict): void {
    f.upload?.answer(why);
    f.upload = undefined;
  }

  private publishWhenHeard(f: Flight): void {
    const { stored, report } = f.upload!;
    if (f.done || f.attempt !== stored.attempt || f.heard < report.events) return;
    this.publish(f, report.host, report.result, stored);
  }

  /** The job's completion (BullMQ's event): a failure, a build without a package, or a success whose upload had no report. */
  private onCompleted(jobId: string, value: unknown): void {
    const f = this.flights.get(jobId);
    if (!f || f.done) return;
    const ret = (typeof value === 'string' ? JSON.parse(value) : value) as JobReturn;
    if (f.lost.has(ret.attempt)) return;
    const r = ret.result;
    if (r.status !== 'success' || !f.task.phases.includes('package')) return this.finish(jobId, r);
    // The agent says it built and uploaded the package: check what arrived, then publish it (only this process writes the repository).
    const upload = this.exchange.uploaded(jobId, ret.attempt);
    if (!upload)
      return this.finish(jobId, {
        ...r,
        status: 'failed',
        error: `agent ${ret.host} reported success but its package never arrived whole; the next pass builds it again`,
        transient: true,
      });
    this.publish(f, ret.host, r, upload);
  }

  private publish(f: Flight, host: string, r: BuildTaskResult, upload: StoredUpload): void {
    const id = f.task.buildId;
    try {
      const pkg = this.identityOf(upload, r.package);
      movePackage(upload.file, join(f.task.paths.packages, 'All', f.task.pkgfile));
      this.finish(id, { ...r, package: pkg });
    } catch (e) {
      this.finish(id, {
        ...r,
        status: 'failed',
        error: `the package agent ${host} uploaded cannot be published: ${(e as Error).message}`,
        transient: true,
      });
    }
  }

  /**
   * What an uploaded package is. A trust decision: the identity (and shared libraries) are taken
   * from the agent's report — its build worker read the package, off any main thread — once the
   * bytes that arrived are shown to be the ones it hashed (the exchange checked them against the
   * SHA-256 it announced, compared here with the report's checksum). Agents are trusted as far as
   * they hold the token (executor.tokenEnv): an agent with it can upload any package at all, so
   * reading the package again here would not stop a hostile one, and it costs this thread a parse
   * of every package (wholly in memory: long for big ones) on the path of every build.
   * `executor.verifyPackages: true` reads every package here anyway and refuses one whose identity
   * is not the one its agent reported (against an agent that misreads, e.g. of another version);
   * an upload without an identity is always read here.
   */
  private identityOf(upload: StoredUpload, reported: PackageIdentity | undefined): PackageIdentity {
    if (reported && reported.checksum !== upload.sha256)
      throw new Error(`it is not the package the agent built (SHA-256 ${upload.sha256}, the agent's ${reported.checksum})`);
    if (reported && !this.config.verifyPackages)
      return { identity: reported.identity, checksum: reported.checksum, shlibs: reported.shlibs };
    const pkg = packageIdentity(upload.file);
    const differs =
      reported && pkg.identity !== reported.identity
        ? `its identity is ${pkg.identity.slice(0, 12)}…, not the ${reported.identity.slice(0, 12)}…`
        : reported && pkg.shlibs.join('\n') !== reported.shlibs.join('\n')
          ? `its shared libraries differ from those (${shlibsDiff(pkg.shlibs, reported.shlibs)})`
          : undefined;
    if (differs)
      throw new Error(
        `read here (executor.verifyPackages), ${differs} its agent reported: the agent misreads packages; check its portsync version`,
      );
    return pkg;
  }

  private onFailed(jobId: string, reason: string): void {
    const f = this.flights.get(jobId);
    if (!f || f.done) return;
    this.finish(jobId, {
      status: 'failed',
      lastPhase: f.lastPhase,
      error: `the queue gave up on it${f.host ? ` (last on agent ${f.host})` : ''}: ${reason}`,
      transient: true,
      durationMs: Date.now() - f.startedAt,
    });
  }

  private finish(jobId: string, r: BuildTaskResult): void {
    const f = this.flights.get(jobId);
    if (!f || f.done) return;
    f.done = true;
    this.flights.delete(jobId);
    // A waiting upload hears how its build ended: published (success), or refused and why.
    this.dropUpload(f, r.status === 'success' ? undefined : (r.error ?? `the build ended ${r.status}`));
    if (f.logFd !== undefined) closeSync(f.logFd);
    this.exchange.forget(jobId);
    // Only a published package is recorded: a build that failed after its agent read the package (refused here, never
    // arrived, upload failed) still carries the identity the agent reported.
    const { package: unpublished, ...failed } = r;
    f.resolve(r.status === 'success' || !unpublished ? r : failed);
  }

  private openLog(f: Flight): void {
    if (f.logFd !== undefined) closeSync(f.logFd);
    mkdirSync(dirname(f.task.logPath), { recursive: true });
    f.logFd = openSync(f.task.logPath, 'w');
  }

  /** Timeouts with the build's own limits, and jobs Redis lost. */
  private async watch(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const now = Date.now();
      for (const [id, f] of this.flights) {
        if (!f.attempt) continue;
        const silent = now - f.lastHeard;
        if (silent > f.task.limits.noOutputTimeoutMs) {
          await this.giveUp(
            id,
            f,
            `no answer from agent ${f.host} for ${silent} ms (limits.noOutputTimeout ${f.task.limits.noOutputTimeoutMs} ms)`,
          );
        } else if (f.phase && now - f.phase.since > f.task.limits.phaseTimeoutMs + PHASE_GRACE_MS) {
          await this.giveUp(
            id,
            f,
            `phase ${f.phase.name} has run ${now - f.phase.since} ms on agent ${f.host}, beyond limits.phaseTimeout (${f.task.limits.phaseTimeoutMs} ms), and the agent did not stop it`,
          );
        }
      }
      // Lost jobs are rare (a Redis restart without its data): looked for every few seconds.
      if (++this.ticks % LOST_CHECK_TICKS !== 0) return;
      for (const [id, f] of this.flights) {
        if (f.done) continue;
        const state = await this.queue.getJobState(id).catch(() => 'error');
        f.missing = state === 'unknown' ? f.missing + 1 : 0;
        // Twice in a row (a completed job is removed a moment before its event arrives): Redis lost it.
        if (f.missing >= 2 && !f.done) {
          f.missing = 0;
          if (f.attempt)
            this.loseAttempt(f, `the queue lost the job (Redis restarted without its data?) while agent ${f.host} had it; queued again`);
          await this.enqueue(f.job, f.task.waiting ?? 0).catch(() => {});
        }
      }
    } finally {
      this.checking = false;
    }
  }

  private async giveUp(id: string, f: Flight, why: string): Promise<void> {
    this.finish(id, {
      status: 'failed',
      lastPhase: f.phase?.name ?? f.lastPhase,
      error: `timed out: ${why}; the next pass builds it again`,
      transient: true,
      durationMs: Date.now() - f.startedAt,
    });
    await this.publisher.publish(cancelChannel(this.config.queue), id).catch(() => 0);
    await this.queue.remove(id).catch(() => 0);
  }

  /** The pass is stopping: a queued job is taken back, a running one is interrupted by its agent. */
  private async cancel(id: string): Promise<void> {
    const f = this.flights.get(id);
    if (!f) return;
    const removed = await this.queue.remove(id).catch(() => 0);
    if (removed === 1)
      return this.finish(id, { status: 'interrupted', lastPhase: 'queued', error: 'interrupted', durationMs: Date.now() - f.startedAt });
    await this.publisher.publish(cancelChannel(this.config.queue), id).catch(() => 0);
    setTimeout(
      () =>
        this.finish(id, {
          status: 'interrupted',
          lastPhase: f.lastPhase,
          error: `interrupted (agent ${f.host ?? '?'} did not confirm)`,
          durationMs: Date.now() - f.startedAt,
        }),
      CANCEL_GRACE_MS,
    ).unref();
  }
}

/** How the shared libraries a package provides differ from those reported of it, in short (a big package has hundreds). */
function shlibsDiff(actual: readonly string[], reported: readonly string[]): string {
  const missing = actual.filter((l) => !reported.includes(l));
  const extra = reported.filter((l) => !actual.includes(l));
  const list = (ls: string[]) => ls.slice(0, 5).join(', ') + (ls.length > 5 ? ` and ${ls.length - 5} more` : '');
  const parts = [
    ...(missing.length ? [`it has ${list(missing)}, not reported`] : []),
    ...(extra.length ? [`reported ${list(extra)}, which it does not have`] : []),
  ];
  return parts.length ? parts.join('; ') : 'in their order';
}

/** A Redis URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
