/**
 * Daemon benchmark: the real `portsync watch` (a child process, as users run it) on a 10,000-port
 * tree in a git repository, its database seeded as if every port had been built.
 *  - watch start: process start → "watching N directories" (and the watcher's own ready time);
 *  - no-change passes through the API (POST /reconcile, the watcher saw nothing), and one
 *    full-check pass (resync-like: everything statted);
 *  - RSS of the daemon after those passes;
 *  - a one-port commit (worktree edit + git commit) → the daemon's plan is ready (its
 *    "building 1 ports" line, or the pass's end when nothing is to build);
 *  - in this process, where a no-change pass spends its time: observe (hinted and full), the
 *    port_state read, the plan, recording the run (start, skipped ports, finish), summary lists.
 *
 *   tsx bench/daemon.ts [--ports 10000] [--dir DIR] [--passes 5]
 *   DAEMON_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' tsx bench/daemon.ts ...: profile the daemon
 *   tsx bench/daemon.ts --tree /tmp/mports [--glob 'misc/*']   (or MPORTS=/tmp/mports): the real
 *       MidnightBSD tree, copied into DIR (a git repository of its own: the benchmark commits
 *       there) and read through `make.profile: midnightbsd`; --glob selects fewer ports (a cold
 *       read of all 10,390 takes about 30 min here), the whole tree is watched either way
 *
 * Results: a table with ok/MISSED against the targets, and bench/out/daemon-<generated|real>.json.
 * Wall-clock figures on a shared 2-core machine: noisy; compare within one run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FailSafeBuildDB } from '../src/builddb/failsafe.js';
import { LineProgress } from '../src/builder/progress.js';
import { runBuilds } from '../src/builder/scheduler.js';
import { writeSummaryLists } from '../src/builder/summary.js';
import { loadDesiredState } from '../src/config/load.js';
import type { DesiredState } from '../src/config/types.js';
import { knownFromRows } from '../src/reconcile/known.js';
import type { LoopStatus } from '../src/reconcile/loop.js';
import { observe } from '../src/reconcile/observe.js';
import { adoptionRecords } from '../src/reconcile/adopt.js';
import { makePlan } from '../src/reconcile/plan.js';
import { reconcileJson } from '../src/reconcile/result-json.js';
import { daemonRequest } from '../src/client/request.js';
import { benchProject, ms, seedAsBuilt } from './lib.js';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'bin', 'portsync.js');
const TARGETS = { watchStartMs: 3000, rssMiB: 400, noChangePassMs: 500, commitToPlanMs: 1000 };

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 }).trim();
/**
 * When the daemon printed a log line (its `[HH:MM:SS.mmm]` UTC stamp), on this process's
 * performance clock; undefined without a stamp.
 */
function printedAt(line: string): number | undefined {
  const m = /^\[(\d\d):(\d\d):(\d\d)\.(\d{3})\]/.exec(line);
  if (!m) return undefined;
  const now = new Date();
  let at = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), +m[1]!, +m[2]!, +m[3]!, +m[4]!);
  if (at > now.getTime() + 60_000) at -= 86_400_000; // (printed before midnight, read after)
  return performance.now() - (now.getTime() - at);
}

const commit = (cwd: string, msg: string) => git(cwd, '-c', 'user.email=bench@example.org', '-c', 'user.name=bench', 'commit', '-qm', msg);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rssMiB = (pid: number) => {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
};

interface Row {
  figure: string;
  value: number | string;
  unit?: string;
  target?: number;
  ok?: boolean;
}

async function project(): Promise<{ state: DesiredState; tree: string; config: string; kind: 'generated' | 'real'; passes: number }> {
  const { values } = parseArgs({
    options: {
      ports: { type: 'string' },
      dir: { type: 'string' },
      tree: { type: 'string' },
      passes: { type: 'string' },
      glob: { type: 'string' },
    },
    strict: false,
  });
  const passes = Number(values.passes ?? 5);
  const real = (typeof values.tree === 'string' ? values.tree : undefined) ?? process.env.MPORTS;
  if (real) {
    const dir = typeof values.dir === 'string' ? values.dir : join(tmpdir(), 'portsync-bench-daemon-real');
    const tree = join(dir, 'ports');
    if (!existsSync(join(tree, '.git'))) {
      // A copy of the files (not a clone: the tree may be a partial clone), committed as one commit.
      mkdirSync(tree, { recursive: true });
      execFileSync('sh', ['-c', 'tar -C "$1" --exclude=./.git -cf - . | tar -C "$2" -xf -', 'copy', real, tree], { stdio: 'inherit' });
      git(tree, 'init', '-q', '-b', 'main');
      git(tree, 'add', '-A');
      commit(tree, `copy of ${real}`);
    }
    const config = join(dir, 'builds.yaml');
    writeFileSync(
      config,
      [
        'portsTree: { path: ports }',
        'make: { command: bmake, profile: midnightbsd }',
        'environment: { backend: host }',
        `ports:\n  - ${JSON.stringify(typeof values.glob === 'string' ? values.glob : '*/*')}`,
        'watch: { debounce: 100ms }',
      ].join('\n'),
    );
    return { state: await loadDesiredState(config), tree, config, kind: 'real', passes };
  }
  const ports = Number(values.ports ?? 10_000);
  const dir = typeof values.dir === 'string' ? values.dir : join(tmpdir(), `portsync-bench-daemon-${ports}`);
  const p = await benchProject({ ports, dir }, 'watch: { debounce: 100ms }');
  if (!existsSync(join(p.tree, '.git'))) {
    git(p.tree, 'init', '-q', '-b', 'main');
    git(p.tree, 'add', '-A');
    commit(p.tree, 'generated tree');
  }
  return { ...p, kind: 'generated', passes };
}

/** A fresh database with every buildable port recorded as built; the leaf port the one-port change goes to. */
async function seed(state: DesiredState): Promise<{ ms: number; ports: number; leaf: string }> {
  // A fresh database: failures recorded by an earlier run would block their dependents.
  for (const f of [state.paths.database, `${state.paths.database}.wal`]) rmSync(f, { force: true });
  const seeded = await seedAsBuilt(state);
  const recorded = new Set(adoptionRecords(seeded.plan).map((r) => r.origin));
  const graph = seeded.plan.observation.graph;
  const leaf = [...graph.nodes.values()].find(
    (n) => n.port && n.rdeps.size === 0 && !n.port.meta.flavors.length && recorded.has(n.port.meta.origin),
  )?.port?.meta.dir;
  if (!leaf) throw new Error('seed: no leaf port was recorded');
  return { ms: seeded.ms, ports: seeded.plan.observation.scan.stats.ports, leaf };
}

/** Where a no-change pass spends its time, in this process (the daemon is stopped): hinted and full observe, plan, recording. */
async function breakdown(state: DesiredState): Promise<{ times: Record<string, number>; mem: Record<string, string> }> {
  const out: Record<string, number> = {};
  const mem: Record<string, string> = {};
  const lap = async <T>(k: string, fn: () => Promise<T> | T): Promise<T> => {
    const t = performance.now();
    const r = await fn();
    out[k] = Math.round(performance.now() - t);
    const m = process.memoryUsage();
    mem[k] =
      `rss ${Math.round(m.rss / 1048576)} MiB, heap ${Math.round(m.heapUsed / 1048576)} MiB, external ${Math.round(m.external / 1048576)} MiB`;
    return r;
  };
  await lap('observe, first in a process (everything checked, cache file read)', () => observe(state));
  await lap('observe, everything checked (resync)', () => observe(state, { changed: 'all' }));
  const obs = await lap('observe, nothing changed (hinted)', () => observe(state, { changed: new Set() }));
  const db = await FailSafeBuildDB.open(state.paths.database, {}, (l) => console.error(l));
  try {
    const rows = await lap('port_state read (without key parts, as the daemon reads it)', () => db.knownStatesWithoutParts());
    const known = await lap('known states', () => knownFromRows(rows));
    const plan = await lap('plan (build keys, decisions)', () => makePlan(obs, { known, force: new Set(), forceAll: false }));
    const runId = await lap('record: start the run', () => db.startRun({ trigger: 'bench', gitCommit: null }));
    const building = plan.ports.filter((p) => p.action === 'build').length;
    if (building) throw new Error(`breakdown: the plan builds ${building} ports; the seed is stale`);
    const ports = await lap('record: skipped ports (runBuilds)', () =>
      runBuilds({ plan, db, runId, trigger: 'bench', progress: new LineProgress(() => {}), fetchOnly: false }),
    );
    const counts = { total: ports.length, success: 0, failed: 0, skipped: ports.length, ignored: 0, blocked: 0 };
    await lap('record: finish the run', () => db.finishRun(runId, 'success', counts));
    await lap('summary lists', () =>
      writeSummaryLists(
        state.paths.logs,
        runId,
        ports,
        reconcileJson({
          runId,
          gitCommit: null,
          stats: { ...counts, interrupted: 0, cutoff: 0, durationMs: 0 },
          ports,
          plan,
          status: 'success',
        } as Parameters<typeof reconcileJson>[0]),
      ),
    );
  } finally {
    await db.close();
  }
  return { times: out, mem };
}

export async function benchDaemon(): Promise<void> {
  const { state, tree, config, kind, passes } = await project();
  const seeded = await seed(state);
  console.log(`seeded ${seeded.ports} ports in ${ms(seeded.ms)}; the one-port change goes to ${seeded.leaf}`);
  const socket = state.server.socket;

  // The daemon, as `portsync watch` runs.
  const t0 = performance.now();
  // DAEMON_NODE_ARGS: node options for the daemon only, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
  const nodeArgs = (process.env.DAEMON_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, BIN, '--config', config, 'watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const lineWaiters: { re: RegExp; resolve: (at: number) => void }[] = [];
  const onData = (d: Buffer) => {
    const at = performance.now();
    log += d;
    for (const w of [...lineWaiters])
      if (w.re.test(log)) {
        lineWaiters.splice(lineWaiters.indexOf(w), 1);
        w.resolve(at);
      }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const seen = (re: RegExp) => new Promise<number>((resolve) => lineWaiters.push({ re, resolve }));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // A daemon busy reading the tree may take a while to accept a connection on a loaded machine.
  const api = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    daemonRequest(socket, method, path, body, { connectTimeoutMs: 120_000 });
  const status = async () => (await api('GET', '/status?ports=none'))?.body as (LoopStatus & { daemon: { passes: number } }) | undefined;
  const fail = (msg: string): never => {
    child.kill('SIGKILL');
    throw new Error(`${msg}\n--- daemon log (tail) ---\n${log.slice(-6000)}`);
  };
  const idle = async (minPasses: number) => {
    for (;;) {
      const s = await status().catch(() => undefined);
      if (s && s.daemon.passes >= minPasses && !s.current && !s.pending) return s;
      if (child.exitCode !== null) fail('the daemon exited');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const progress = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
  const watchingAt = await seen(/watching \d+ directories/);
  progress(`watching after ${Math.round(watchingAt - t0)} ms`);
  const watchStart = watchingAt - t0;
  const m = /watching (\d+) directories \(ready in (\d+) ms, (\d+) ms CPU, tree (\w+)\)/.exec(log);
  await idle(1);
  const startupRss = rssMiB(child.pid!);
  progress(`startup pass done; RSS ${startupRss} MiB`);

  const wall: number[] = [];
  const inPass: number[] = [];
  let scan: unknown;
  for (let i = 0; i < passes; i++) {
    const t = performance.now();
    const r = await api('POST', '/reconcile', { wait: true });
    wall.push(performance.now() - t);
    const body = r?.body as { stats: { durationMs: number; success: number; failed: number } } | undefined;
    if (!body?.stats) fail(`POST /reconcile answered ${JSON.stringify(r)}`);
    if (body!.stats.success + body!.stats.failed) fail(`a no-change pass built something: ${JSON.stringify(body!.stats)}`);
    inPass.push(body!.stats.durationMs);
    scan = (await status())!.lastPass?.scan;
    progress(
      `no-change pass ${i + 1}: ${body!.stats.durationMs} ms in the pass, ${Math.round(wall.at(-1)!)} ms wall, scan ${JSON.stringify(scan)}`,
    );
  }
  const rssAfter = rssMiB(child.pid!);
  // A full check (what every resync does), through a trigger the loop treats like one: builds.yaml touched.
  const before = (await idle(0)).daemon.passes;
  appendFileSync(config, '\n');
  await idle(before + 1);
  const full = (await status())!.lastPass!;
  progress(`full-check pass: ${full.stats.durationMs} ms`);

  // One-port commit: edit, commit; the plan is ready when the pass prints its summary line, the
  // builds start once the repository's staging copy is made ("building N ports").
  const passesBefore = (await idle(0)).daemon.passes;
  // A commit to an idle daemon: the pass before has also saved its caches and reports (a few hundred ms after it ends).
  await new Promise((r) => setTimeout(r, 3000));
  const mark = log.length;
  const tc = performance.now();
  appendFileSync(join(tree, seeded.leaf, 'Makefile'), `# bench change ${Date.now()}\n`);
  git(tree, 'add', '-A');
  commit(tree, `bench: touch ${seeded.leaf}`);
  // (Printed since the edit: the watcher may start the pass before the commit is made.) When the
  // line was printed is its own timestamp: this process reads the daemon's output only once git's
  // add and commit (run synchronously here, a second or more on this tree) have returned.
  const printedSince = (re: RegExp) =>
    new Promise<number>((resolve) => {
      const check = () => {
        const line = log
          .slice(mark)
          .split('\n')
          .find((l) => re.test(l));
        if (line) resolve(printedAt(line) ?? performance.now());
        else setTimeout(check, 5);
      };
      check();
    });
  const [planReady, buildStart] = await Promise.all([
    printedSince(/plan: \d+ ports: \d+ to build/),
    printedSince(/building \d+ ports? with|\(\w+\) \w+: \d+ built/),
  ]);
  const commitToPlan = planReady - tc;
  progress(`one-port commit -> plan ready: ${Math.round(commitToPlan)} ms, builds start: ${Math.round(buildStart - tc)} ms`);
  await idle(passesBefore + 1);
  const afterCommit = ((await api('GET', '/status'))?.body as LoopStatus).lastPass!;
  child.kill('SIGTERM');
  await exited;

  const { times, mem } = await breakdown(state);
  const rows: Row[] = [
    { figure: 'watch start: process start -> watching', value: Math.round(watchStart), unit: 'ms', target: TARGETS.watchStartMs },
    { figure: '  the watcher alone (its "ready in")', value: Number(m?.[2] ?? NaN), unit: 'ms' },
    { figure: '  the watcher alone, CPU time (less load-dependent)', value: Number(m?.[3] ?? NaN), unit: 'ms' },
    { figure: '  directories watched', value: Number(m?.[1] ?? NaN) },
    { figure: '  tree watched by', value: m?.[4] ?? '?' },
    { figure: 'RSS after the startup pass', value: startupRss, unit: 'MiB', target: TARGETS.rssMiB },
    { figure: `RSS after ${passes} no-change passes`, value: rssAfter, unit: 'MiB', target: TARGETS.rssMiB },
    { figure: 'no-change pass in the daemon (median, in the pass)', value: median(inPass), unit: 'ms', target: TARGETS.noChangePassMs },
    { figure: '  same, wall through POST /reconcile', value: Math.round(median(wall)), unit: 'ms' },
    { figure: '  its scan', value: JSON.stringify(scan) },
    { figure: 'full-check pass (builds.yaml touched; like resync)', value: full.stats.durationMs, unit: 'ms' },
    { figure: '  its scan', value: JSON.stringify(full.scan) },
    {
      figure: `one-port commit -> plan ready (${seeded.leaf})`,
      value: Math.round(commitToPlan),
      unit: 'ms',
      target: TARGETS.commitToPlanMs,
    },
    { figure: '  -> builds start (staging copy of the repository made)', value: Math.round(buildStart - tc), unit: 'ms' },
    { figure: '  its scan', value: JSON.stringify(afterCommit.scan) },
    {
      figure: '  ports built',
      value:
        afterCommit.ports
          .filter((p) => p.status === 'success' || p.status === 'failed')
          .map((p) => `${p.origin}:${p.status}`)
          .join(' ') || '(none)',
    },
    ...Object.entries(times).map(([k, v]) => ({ figure: `breakdown: ${k}`, value: v, unit: 'ms' })),
    ...Object.entries(mem).map(([k, v]) => ({ figure: `  memory after: ${k}`, value: v })),
  ];
  for (const r of rows) if (r.target !== undefined && typeof r.value === 'number') r.ok = r.value <= r.target;
  console.log(`\ndaemon on ${seeded.ports} ports (${kind} tree ${tree}); noisy: a shared 2-core machine`);
  const w = Math.max(...rows.map((r) => r.figure.length));
  for (const r of rows) {
    const v = `${r.value}${r.unit ? ` ${r.unit}` : ''}`;
    console.log(
      `  ${r.figure.padEnd(w)}  ${v.padStart(10)}${r.target !== undefined ? `   ${r.ok ? 'ok' : 'MISSED'} (target <= ${r.target}${r.unit ? ` ${r.unit}` : ''})` : ''}`,
    );
  }
  const outDir = join(here, 'out');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `daemon-${kind}.json`);
  writeFileSync(
    file,
    JSON.stringify({ at: new Date().toISOString(), kind, tree, ports: seeded.ports, rows, daemonLogTail: log.slice(-4000) }, null, 2),
  );
  writeFileSync(join(outDir, `daemon-${kind}.log`), log);
  console.log(`  -> ${file} (the daemon's whole log: daemon-${kind}.log)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchDaemon();
