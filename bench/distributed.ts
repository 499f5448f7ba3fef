/**
 * Distributed builds benchmark (issue 12), with a redis-server of its own on 127.0.0.1 and
 * `portsync agent` processes on this machine:
 *
 *  dispatch  The same trivial ports built once by the local pool (`--workers` threads) and once
 *            through the queue by `--workers` agents of one worker each: the time the queue adds
 *            per port (target <= 20 ms).
 *  scale     Many agent processes with instant builds (PORTSYNC_AGENT_SIMULATE=instant: a
 *            benchmark-only agent mode, src/distributed/simulate.ts) over a generated graph of
 *            `--scale-ports` ports: jobs/s through the coordinator, and what saturates — the CPU
 *            of the coordinator, redis-server and the agents (from /proc), the coordinator's event
 *            loop, and the share of the build time it has database writes, package-exchange
 *            requests, queue calls and publishing under way.
 *
 *   tsx bench/distributed.ts [--only dispatch|scale] [--ports 40] [--workers 2] [--rounds 2]
 *                            [--scale-ports 10000] [--agents 40] [--agent-workers 2] [--seconds 120] [--dir DIR]
 *   --agents 10,20,40 runs the simulation once per agent count (each with a fresh database);
 *   --seconds 0 builds the whole graph instead of measuring a 120 s window of it.
 *
 * Skips (exit 0, saying why) when redis-server or bmake is missing.
 */
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { BuildDB } from '../src/builddb/db.js';
import { LocalExecutor, type BuildExecutor } from '../src/builder/executor.js';
import type { Progress } from '../src/builder/progress.js';
import { loadDesiredState } from '../src/config/load.js';
import { DistributedExecutor } from '../src/distributed/coordinator.js';
import { PackageExchange } from '../src/distributed/exchange.js';
import type { JobEvent } from '../src/distributed/job.js';
import { SIMULATE_ENV } from '../src/distributed/simulate.js';
import { observe } from '../src/reconcile/observe.js';
import { reconcilePass } from '../src/reconcile/pass.js';
import { bmakeMissing } from '../test/helpers/minitree.js';
import { TOKEN, TestAgent, TestRedis, distributedExecutor, redisMissing } from '../test/helpers/distributed.js';
import { trivialTree } from './build.js';
import { benchProject, ms, report, type Figure } from './lib.js';

/**
 * The coordinator's time line of a pass: when building started, when each port was built. A
 * window (`windowMs`) ends the measure early: `onEnd` is called once, when the window closes or
 * the last port is done, whichever comes first.
 */
class PassClock implements Progress {
  startedAt = 0;
  endedAt = 0;
  /** When each port was built (successes only), within the window. */
  built: number[] = [];
  private total = 0;
  private finished = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly hooks: { windowMs?: number; onStart?: () => void; onEnd?: () => void } = {}) {}
  start(total: number): void {
    this.total = total;
    this.startedAt = performance.now();
    this.hooks.onStart?.();
    if (this.hooks.windowMs) this.timer = setTimeout(() => this.end(), this.hooks.windowMs);
  }
  portStarted(): void {}
  phase(): void {}
  portFinished(_slot: number, origin: string, status: string, detail?: string): void {
    if (this.endedAt) return;
    if (status === 'success') this.built.push(performance.now());
    else if (status !== 'blocked') console.error(`  ${status} ${origin}: ${detail ?? ''}`);
    if (++this.finished === this.total) this.end();
  }
  line(): void {}
  stop(): void {
    this.end();
  }
  private end(): void {
    if (this.endedAt) return;
    clearTimeout(this.timer);
    this.endedAt = performance.now();
    this.hooks.onEnd?.();
  }
  get buildMs(): number {
    return (this.endedAt || performance.now()) - this.startedAt;
  }
  /** Builds per second between the 10th and the 90th percentile (a graph's narrow start and end left out). */
  get steadyRate(): number {
    const f = this.built;
    if (f.length < 20) return f.length / (this.buildMs / 1000);
    const [i, j] = [Math.floor(f.length * 0.1), Math.floor(f.length * 0.9)];
    return (j - i) / ((f[j]! - f[i]!) / 1000);
  }
}

/**
 * How long the coordinator has at least one call of a kind under way (the union of the calls'
 * intervals, so overlapping calls count once), and how many calls. Wraps the methods of the real
 * classes in this process for the benchmark's duration; nothing else changes.
 */
class BusyMeter {
  calls = 0;
  busyMs = 0;
  private active = 0;
  private since = 0;
  private readonly restore: (() => void)[] = [];
  wrap(proto: object, methods: string[]): this {
    const target = proto as Record<string, (...a: unknown[]) => unknown>;
    for (const m of methods) {
      const original = target[m];
      if (typeof original !== 'function') throw new Error(`bench: no method ${m} to measure`);
      const meter = this;
      target[m] = function (this: unknown, ...args: unknown[]) {
        meter.enter();
        let r: unknown;
        try {
          r = original.apply(this, args);
        } catch (e) {
          meter.leave();
          throw e;
        }
        if (r instanceof Promise) return r.finally(() => meter.leave());
        meter.leave();
        return r;
      };
      this.restore.push(() => (target[m] = original));
    }
    return this;
  }
  reset(): void {
    this.calls = 0;
    this.busyMs = 0;
    if (this.active) this.since = performance.now();
  }
  /** Calls and busy time so far (a call under way counted up to now). */
  read(): { calls: number; busyMs: number } {
    return { calls: this.calls, busyMs: this.busyMs + (this.active ? performance.now() - this.since : 0) };
  }
  unwrap(): void {
    for (const r of this.restore) r();
  }
  private enter(): void {
    this.calls++;
    if (this.active++ === 0) this.since = performance.now();
  }
  private leave(): void {
    if (--this.active === 0) this.busyMs += performance.now() - this.since;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; 0 once it is gone. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

function rssMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function startAgents(
  n: number,
  opts: { redis: string; queue: string; tree: string; workers: number; simulate: boolean },
): Promise<{ agents: TestAgent[]; startMs: number }> {
  const t = performance.now();
  const agents: TestAgent[] = [];
  // Started ten at a time: forty Node processes compiling at once on two cores take minutes to answer.
  for (let i = 0; i < n; i += 10) {
    const batch = Array.from(
      { length: Math.min(10, n - i) },
      (_, j) =>
        new TestAgent({
          name: `agent${String(i + j + 1).padStart(2, '0')}`,
          redis: opts.redis,
          queue: opts.queue,
          portsTree: opts.tree,
          workers: opts.workers,
          backend: 'host',
          lockTimeout: '60s',
          ...(opts.simulate ? { env: { [SIMULATE_ENV]: 'instant' } } : {}),
        }),
    );
    agents.push(...batch);
    await Promise.all(batch.map((a) => a.ready(180_000)));
  }
  return { agents, startMs: performance.now() - t };
}

/** (a) The time the queue adds per port against the local pool, same ports, same number of workers. */
async function benchDispatch(redis: TestRedis, base: string, n: number, workers: number, rounds: number): Promise<void> {
  const dir = join(base, `dispatch-${n}`);
  rmSync(dir, { recursive: true, force: true });
  trivialTree(join(dir, 'ports'), n);
  const project = (name: string, extra: string) => {
    mkdirSync(join(dir, name), { recursive: true });
    const config = join(dir, name, 'builds.yaml');
    writeFileSync(
      config,
      [
        'portsTree: { path: ../ports }',
        'make: { command: bmake, env: { MAKESYSPATH: ../ports/Mk } }',
        `workers: ${workers}`,
        'environment: { backend: host }',
        'ports:\n  - "bench/*"',
        extra,
      ].join('\n'),
    );
    return config;
  };
  // What each build costs beyond itself: the executor's run, as the scheduler waits for it, less the build's own time where it ran.
  const added: number[] = [];
  // A remote build's time line, as the coordinator sees it: handed to the queue, taken by an agent (its first event), first
  // phase (after the tree check and the downloads), last phase ended, its package stored by the exchange (after the build's
  // end on the agent and the upload), result back (checked and published).
  const lines = new Map<
    string,
    { queued: number; taken?: number; firstPhase?: number; lastPhase?: number; uploaded?: number; done?: number; build: number }
  >();
  const restore: (() => void)[] = [LocalExecutor.prototype, DistributedExecutor.prototype].map((proto) => {
    const original = proto.run;
    proto.run = async function (this: BuildExecutor, ...args: Parameters<BuildExecutor['run']>) {
      const t = performance.now();
      const line = { queued: t, build: 0 };
      if (this instanceof DistributedExecutor) lines.set(args[0].buildId, line);
      const r = await original.apply(this, args);
      if (r.status === 'success') added.push(performance.now() - t - r.durationMs);
      Object.assign(line, { done: performance.now(), build: r.durationMs });
      return r;
    } as typeof original;
    return () => (proto.run = original);
  });
  const progressOf = DistributedExecutor.prototype as unknown as { onProgress: (id: string, e: JobEvent) => void };
  const onProgress = progressOf.onProgress;
  progressOf.onProgress = function (this: unknown, id: string, e: JobEvent) {
    const line = lines.get(id);
    const now = performance.now();
    if (line) {
      line.taken ??= now;
      if (e.type === 'task') {
        line.firstPhase ??= now;
        if (e.event.type === 'phase-end') line.lastPhase = now;
      }
    }
    onProgress.call(this, id, e);
  };
  restore.push(() => (progressOf.onProgress = onProgress));
  const onUploaded = DistributedExecutor.prototype.onUploaded;
  DistributedExecutor.prototype.onUploaded = function (this: DistributedExecutor, u) {
    const line = lines.get(u.jobId);
    if (line) line.uploaded ??= performance.now();
    return onUploaded.call(this, u);
  };
  restore.push(() => (DistributedExecutor.prototype.onUploaded = onUploaded));
  const pass = async (config: string) => {
    rmSync(join(config, '..', '.portsync'), { recursive: true, force: true }); // every round builds every port
    added.length = 0;
    lines.clear();
    const clock = new PassClock();
    const state = await loadDesiredState(config);
    const r = await reconcilePass(state, { trigger: 'bench', progress: clock, log: (l) => console.error(l) });
    const built = r.ports.filter((p) => p.status === 'success');
    const meanBuild = built.reduce((s, p) => s + (p.durationMs ?? 0), 0) / Math.max(1, built.length);
    return {
      built: built.length,
      // Per port and worker: the wall time of the building part × workers / ports (both modes keep every worker busy).
      perPort: (clock.buildMs * workers) / n,
      meanBuild,
      overhead: median(added),
      // Medians of the remote time line (ms): queue to agent, agent to first phase, phases beyond the build's own time, last phase to result.
      remote: lines.size
        ? {
            pickup: median([...lines.values()].map((l) => (l.taken ?? NaN) - l.queued)),
            beforeBuild: median([...lines.values()].map((l) => (l.firstPhase ?? NaN) - (l.taken ?? NaN))),
            afterBuild: median([...lines.values()].map((l) => (l.done ?? NaN) - (l.lastPhase ?? NaN))),
            toUpload: median([...lines.values()].map((l) => (l.uploaded ?? NaN) - (l.lastPhase ?? NaN))),
            publish: median([...lines.values()].map((l) => (l.done ?? NaN) - (l.uploaded ?? NaN))),
          }
        : undefined,
    };
  };
  console.log(`dispatch: ${n} trivial ports, ${workers} local workers vs ${workers} agents of one worker each, ${rounds} rounds`);
  const localConfig = project('local', '');
  const queue = `bench-dispatch-${process.pid}`;
  // As many builds in flight as the agents have workers (as the local pool has threads): none waits in the queue, so the time
  // beyond the build is the queue's and the exchange's, not a wait for a free agent.
  const distConfig = project('distributed', `${distributedExecutor(redis.url, queue).replace(/ }$/, `, maxInFlight: ${workers} }`)}`);
  const { agents } = await startAgents(workers, { redis: redis.url, queue, tree: join(dir, 'ports'), workers: 1, simulate: false });
  type Round = Awaited<ReturnType<typeof pass>>;
  const local: Round[] = [];
  const dist: Round[] = [];
  try {
    // Interleaved, and the best round of each kept: this machine is shared, and a busy moment must not decide.
    for (let i = 0; i < rounds; i++) {
      local.push(await pass(localConfig));
      dist.push(await pass(distConfig));
      console.log(
        `  round ${i + 1}: per port and worker, local ${local[i]!.perPort.toFixed(1)} ms (${local[i]!.overhead.toFixed(1)} ms beyond the build), agents ${dist[i]!.perPort.toFixed(1)} ms (${dist[i]!.overhead.toFixed(1)} ms beyond the build)`,
      );
    }
  } finally {
    restore.forEach((r) => r());
    await Promise.all(agents.map((a) => a.stop()));
  }
  const best = (rs: Round[]) => rs.reduce((a, b) => (b.overhead < a.overhead ? b : a));
  const [l, d] = [best(local), best(dist)];
  report(
    'distributed-dispatch',
    `dispatch through the queue: ${n} trivial ports, ${workers} local workers vs ${workers} agents × 1 worker, host backend, best of ${rounds} rounds`,
    [
      { figure: 'built locally (every round)', value: Math.min(...local.map((r) => r.built)), min: n },
      { figure: 'built by agents (every round)', value: Math.min(...dist.map((r) => r.built)), min: n },
      { figure: 'local: wall time per port and worker', value: l.perPort, unit: 'ms' },
      { figure: 'local: mean build (8 phases)', value: l.meanBuild, unit: 'ms' },
      { figure: 'local: per port beyond the build (median)', value: l.overhead, unit: 'ms' },
      { figure: 'agents: wall time per port and worker', value: d.perPort, unit: 'ms' },
      { figure: 'agents: mean build (8 phases)', value: d.meanBuild, unit: 'ms' },
      { figure: 'agents: per port beyond the build (median)', value: d.overhead, unit: 'ms' },
      { figure: '  queued -> taken by an agent', value: d.remote?.pickup ?? NaN, unit: 'ms' },
      { figure: '  taken -> first phase (tree check, downloads)', value: d.remote?.beforeBuild ?? NaN, unit: 'ms' },
      { figure: '  last phase -> result (upload, check, publish)', value: d.remote?.afterBuild ?? NaN, unit: 'ms' },
      { figure: '    last phase -> package stored (end of build, upload)', value: d.remote?.toUpload ?? NaN, unit: 'ms' },
      { figure: '    package stored -> result (check, publish)', value: d.remote?.publish ?? NaN, unit: 'ms' },
      // Queue, tree check, dependency downloads, upload, checking and publishing: what the agents add to each build.
      { figure: 'added by the queue per port', value: d.overhead - l.overhead, unit: 'ms', max: 20 },
      // Every hop (coordinator, Redis, agent, its worker thread) waits for a core: the figures above grow with the load.
      { figure: 'load average of this machine (1 min)', value: loadavg()[0]! },
    ],
    { rounds: { local, agents: dist } },
  );
}

/** (b) Many agents with instant builds over a generated graph: jobs/s, and what saturates. */
async function benchScale(
  redis: TestRedis,
  base: string,
  opts: { ports: number; agents: number[]; agentWorkers: number; seconds: number },
): Promise<void> {
  const { ports, agents: agentCounts, agentWorkers, seconds } = opts;
  const args = { ports, dir: join(base, `scale-${ports}`) };
  // The tree (generated once) and its metadata cache (in the shared build base) are kept between runs.
  const first = await benchProject(args);
  const t = performance.now();
  const obs = await observe(first.state);
  console.log(`scale: ${obs.scan.stats.ports} ports observed in ${ms(performance.now() - t)} (metadata cache warm from now on)`);
  for (const count of agentCounts) {
    const run = `run-${count}`;
    rmSync(join(args.dir, run), { recursive: true, force: true });
    const queue = `bench-scale-${process.pid}-${count}`;
    // Each run a database, repository and logs of its own; the build base (metadata cache) is shared.
    const { state, tree } = await benchProject(
      args,
      `paths: { database: ${run}/builddb.duckdb, packages: ${run}/packages, logs: ${run}/logs }\n${distributedExecutor(redis.url, queue)}`,
    );
    const { agents, startMs } = await startAgents(count, { redis: redis.url, queue, tree, workers: agentWorkers, simulate: true });
    console.log(`  ${count} agents (${agentWorkers} workers each) ready in ${ms(startMs)}`);
    const meters = {
      // BuildDB's own methods (the pass's fail-safe wrapper calls them; recordPhase goes through recordPhases).
      db: new BusyMeter().wrap(BuildDB.prototype, [
        'startBuild',
        'recordPhases',
        'setBuildHost',
        'finishBuild',
        'completeBuild',
        'recordSuccess',
        'recordFailure',
      ]),
      http: new BusyMeter().wrap(PackageExchange.prototype, ['handle']),
      queue: new BusyMeter().wrap(Queue.prototype, ['add']),
      publish: new BusyMeter().wrap(DistributedExecutor.prototype, ['onCompleted']),
    };
    let peakAgentsMb = 0;
    const sampler = setInterval(() => {
      peakAgentsMb = Math.max(
        peakAgentsMb,
        agents.reduce((s, a) => s + rssMb(a.proc.pid), 0),
      );
    }, 1000);
    // Everything is read between the first port handed out and the end of the window (or the last port built).
    const cpuNow = () => ({
      self: process.cpuUsage(),
      redis: cpuSeconds(redis.pid),
      agents: agents.reduce((s, a) => s + cpuSeconds(a.proc.pid), 0),
    });
    let cpu0 = cpuNow();
    let cpu1 = cpu0;
    let elu0 = performance.eventLoopUtilization();
    let elu = elu0;
    const busy = {
      db: { calls: 0, busyMs: 0 },
      http: { calls: 0, busyMs: 0 },
      queue: { calls: 0, busyMs: 0 },
      publish: { calls: 0, busyMs: 0 },
    };
    const stop = new AbortController();
    const clock = new PassClock({
      ...(seconds > 0 ? { windowMs: seconds * 1000 } : {}),
      onStart: () => {
        Object.values(meters).forEach((m) => m.reset());
        elu0 = performance.eventLoopUtilization();
        cpu0 = cpuNow();
      },
      onEnd: () => {
        cpu1 = cpuNow();
        elu = performance.eventLoopUtilization(elu0);
        for (const k of Object.keys(meters) as (keyof typeof meters)[]) busy[k] = meters[k].read();
        stop.abort(); // the window is over: the rest of the graph is not built
      },
    });
    let result;
    try {
      result = await reconcilePass(state, { trigger: 'bench', progress: clock, log: (l) => console.error(l), signal: stop.signal });
    } finally {
      clearInterval(sampler);
      Object.values(meters).forEach((m) => m.unwrap());
      await Promise.all(agents.map((a) => a.stop()));
    }
    const jobs = clock.built.length;
    const wallS = clock.buildMs / 1000;
    const coordCpu = (cpu1.self.user + cpu1.self.system - cpu0.self.user - cpu0.self.system) / 1e6;
    const redisCpu = cpu1.redis - cpu0.redis;
    const agentsCpu = cpu1.agents - cpu0.agents;
    const cores = cpus().length;
    const machine = (coordCpu + redisCpu + agentsCpu) / (wallS * cores);
    const share = (m: { busyMs: number }) => Math.round((100 * m.busyMs) / clock.buildMs);
    const perCore = (cpu: number) => (cpu > 0 ? Math.round(jobs / cpu) : Infinity);
    // The first to saturate, were each part given a core of its own: the one with the fewest jobs per CPU second.
    const capacities: [string, number][] = [
      ['the coordinator', perCore(coordCpu)],
      ['redis-server', perCore(redisCpu)],
    ];
    capacities.sort((a, b) => a[1] - b[1]);
    const bottleneck =
      machine > 0.85
        ? `this machine's ${cores} cores (${Math.round(machine * 100)}% used); given a core each: ${capacities[0]![0]} first`
        : elu.utilization > 0.9
          ? "the coordinator's main thread"
          : capacities[0]![0];
    const figures: Figure[] = [
      { figure: 'ports built (instant)', value: jobs, min: 1 },
      { figure: 'failed', value: result.stats.failed, max: 0 },
      {
        figure: seconds > 0 && jobs < result.ports.length ? `measured for (of a ${seconds} s window)` : 'building time',
        value: Math.round(clock.buildMs),
        unit: 'ms',
      },
      // 30,000 ports over a two-day run on 20 hosts finish ~0.2 builds/s; the coordinator must keep far ahead.
      { figure: 'jobs/s through the coordinator', value: jobs / wallS, unit: 'jobs/s', min: 10 },
      { figure: 'jobs/s, steady (10th-90th percentile)', value: clock.steadyRate, unit: 'jobs/s' },
      { figure: 'CPU: coordinator (all threads)', value: Math.round((100 * coordCpu) / wallS), unit: '% of a core' },
      { figure: "CPU: coordinator's event loop busy", value: Math.round(100 * elu.utilization), unit: '%' },
      { figure: 'CPU: redis-server', value: Math.round((100 * redisCpu) / wallS), unit: '% of a core' },
      { figure: `CPU: ${count} agents`, value: Math.round((100 * agentsCpu) / wallS), unit: '% of a core' },
      { figure: 'CPU per job: coordinator', value: (1000 * coordCpu) / jobs, unit: 'ms' },
      { figure: 'CPU per job: redis-server', value: (1000 * redisCpu) / jobs, unit: 'ms' },
      { figure: 'CPU per job: agents', value: (1000 * agentsCpu) / jobs, unit: 'ms' },
      { figure: 'coordinator capacity, one core', value: perCore(coordCpu), unit: 'jobs/s' },
      { figure: 'redis-server capacity, one core', value: perCore(redisCpu), unit: 'jobs/s' },
      { figure: 'database writes under way', value: share(busy.db), unit: '% of the time' },
      { figure: '  database writes per job', value: busy.db.calls / jobs },
      { figure: 'package exchange requests under way', value: share(busy.http), unit: '% of the time' },
      { figure: '  requests per job (downloads + upload)', value: busy.http.calls / jobs },
      { figure: 'queue adds under way', value: share(busy.queue), unit: '% of the time' },
      { figure: 'checking and publishing uploads', value: share(busy.publish), unit: '% of the time' },
      { figure: 'agents: memory (peak, all)', value: Math.round(peakAgentsMb), unit: 'MB' },
      { figure: 'agents: start', value: Math.round(startMs), unit: 'ms' },
      { figure: 'saturates first', value: bottleneck },
      { figure: 'load average of this machine (1 min)', value: loadavg()[0]! },
    ];
    report(
      `distributed-scale-${count}`,
      `scale: ${count} agents × ${agentWorkers} workers, instant builds (${SIMULATE_ENV}), ${obs.scan.stats.ports}-port generated graph, ${cores} cores`,
      figures,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      ports: { type: 'string' },
      workers: { type: 'string' },
      'scale-ports': { type: 'string' },
      agents: { type: 'string' },
      'agent-workers': { type: 'string' },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      dir: { type: 'string' },
    },
    strict: false,
  });
  const missing = redisMissing() ?? bmakeMissing();
  if (missing) {
    console.log(`bench/distributed.ts: skipped: ${missing}`);
    return;
  }
  process.env.PORTSYNC_AGENT_TOKEN = TOKEN;
  const base = typeof values.dir === 'string' ? values.dir : join(tmpdir(), 'portsync-bench-distributed');
  // Redis as it is usually run with its data kept: appendonly, fsync once a second.
  const redis = await TestRedis.start({ fsync: 'everysec' });
  try {
    if (values.only !== 'scale')
      await benchDispatch(redis, base, Number(values.ports ?? 40), Number(values.workers ?? 2), Number(values.rounds ?? 2));
    if (values.only !== 'dispatch')
      await benchScale(redis, base, {
        ports: Number(values['scale-ports'] ?? 10_000),
        agents: String(values.agents ?? '40')
          .split(',')
          .map(Number),
        agentWorkers: Number(values['agent-workers'] ?? 2),
        seconds: Number(values.seconds ?? 120),
      });
  } finally {
    await redis.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
