/**
 * `portsync watch` put together: the one read-write database connection, the pass loop, the
 * watchers and the HTTP API. `stop()` ends it cleanly: no new passes, the running pass
 * interrupted and recorded, the database closed, the socket removed.
 */
import { BuildDB } from '../builddb/db.js';
import { FailSafeBuildDB } from '../builddb/failsafe.js';
import type { DesiredState } from '../config/types.js';
import { deferCacheSaves } from '../ports/scanner.js';
import { PassLoop, type BeforePass, type LoopStatus } from '../reconcile/loop.js';
import { startWatching, type WatchOptions, type Watching } from '../reconcile/watch.js';
import type { DaemonContext } from './context.js';
import { checkListen, claimSocket, startListeners, type Listeners } from './listen.js';
import { collectGarbage } from './memory.js';
import { RateLimiter } from './ratelimit.js';
import { makeHandler } from './router.js';
import { DaemonMetrics } from './metrics.js';
import { PassTracker } from './passTracker.js';
import { PassFeed } from './dashboard/feed.js';
import { acquirePassLock } from '../reconcile/passLock.js';
import { settleBackground } from '../notify/index.js';

/** How long a stopping daemon waits for hooks and notifications still running. */
const SETTLE_MS = 5000;

export interface DaemonOptions {
  configFile: string;
  state: DesiredState;
  log: (line: string) => void;
  beforePass?: BeforePass;
  backoff?: { initialMs: number; maxMs: number };
  /** Watcher knobs (tests, benchmarks): see WatchOptions. */
  watch?: Pick<WatchOptions, 'maxWatches' | 'pollIntervalMs'>;
}

export interface Daemon {
  loop: PassLoop;
  /** What is watched now (the watchers are replaced when builds.yaml moves the tree). */
  watching(): Watching;
  tcp?: { host: string; port: number };
  stop(): Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { state, log } = opts;
  const startedAt = new Date().toISOString();
  checkListen(state.server, process.env, log);
  await claimSocket(state.server.socket); // before the database: "a daemon already runs" beats "database locked"
  // Opened once, read-write: DuckDB's lock makes the daemon the only writer; a lock held by
  // someone else is an error here (DatabaseLockedError names the holder).
  // The project's pass lock, for as long as the daemon runs: no `reconcile` builds beside it.
  const passLock = await acquirePassLock(state.paths.buildBase, `portsync watch (pid ${process.pid})`);
  if (passLock.tookOverFrom) log(`took over the pass lock ${passLock.file} left by pid ${passLock.tookOverFrom.pid}, which is gone`);
  let buildDb: BuildDB;
  try {
    buildDb = await BuildDB.open(state.paths.database, { processInfo: `portsync watch (pid ${process.pid})` });
  } catch (err) {
    passLock.release();
    throw err;
  }
  if (buildDb.recovered.builds || buildDb.recovered.runs) {
    log(
      `builddb: marked ${buildDb.recovered.builds} builds and ${buildDb.recovered.runs} runs left running by a dead process as interrupted`,
    );
  }
  const db = new FailSafeBuildDB(buildDb, log);
  const feed = new PassFeed(buildDb);
  const metrics: DaemonMetrics = new DaemonMetrics((): LoopStatus => loop.status(), db);
  // What /status compares the desired state with: the current (or last) pass's plan and outcomes.
  const passes = new PassTracker(buildDb, log);
  let watching: Watching | undefined;
  let listeners: Listeners | undefined;
  // The watchers report every change they see: paths of the tree (the pass reads only those), or
  // "check everything" (builds.yaml changed, a watcher lost track). Git refs only wake the loop:
  // it asks git itself what a moved HEAD changed.
  const watchOptions: WatchOptions = {
    onChange: (kind, path) => loop.noteChange('watch', `${kind} ${path}`, kind === 'tree' ? [path] : kind === 'config' ? 'all' : []),
    onLostTrack: (reason) => loop.noteChange('watch', reason, 'all'),
    log,
    ...opts.watch,
  };
  /** The part of the desired state the watchers depend on. */
  const watchKey = (s: DesiredState) => JSON.stringify([s.file, s.portsTree, s.paths]);
  let watchedKey = watchKey(state);
  let rewatching: Promise<void> = Promise.resolve();
  let stopping = false;
  const onStateChange = (next: DesiredState) => {
    if (watchKey(next) === watchedKey) return;
    watchedKey = watchKey(next);
    rewatching = rewatching.then(async () => {
      if (stopping) return;
      await watching?.close();
      try {
        watching = await startWatching(next, watchOptions);
        log(
          `builds.yaml moved the ports tree: now watching ${watching.watchedDirs()} directories (${next.portsTree.source} mode, tree ${watching.treeMode()})`,
        );
      } catch (err) {
        log(`warning: cannot watch the new ports tree: ${(err as Error).message}; every pass checks the whole tree`);
      }
      loop.noteChange('watch', 'watchers replaced', 'all');
    });
  };
  // Metadata caches are written after each pass, not before its plan.
  deferCacheSaves();
  const loop = new PassLoop({
    configFile: opts.configFile,
    state,
    db,
    log,
    onStateChange,
    watchedTree: () => (stopping ? undefined : watching?.treeWatched()),
    onIdle: collectGarbage,
    observers: [metrics, feed, passes],
    progress: feed.progress(),
    ...(opts.beforePass ? { beforePass: opts.beforePass } : {}),
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
  });
  try {
    const ctx: DaemonContext = {
      pid: process.pid,
      startedAt,
      configFile: opts.configFile,
      socket: state.server.socket,
      listen: state.server.listen,
      loop,
      db: buildDb,
      hookLimiter: new RateLimiter(10, 60_000),
      metrics,
      feed,
      passes,
      log,
    };
    listeners = await startListeners(makeHandler(ctx, 'unix'), makeHandler(ctx, 'tcp'), state.server.socket, state.server.listen);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    watching = await startWatching(state, watchOptions);
    const cpu = process.cpuUsage(cpu0);
    log(
      `watching ${watching.watchedDirs()} directories (ready in ${Math.round(performance.now() - t0)} ms, ${Math.round((cpu.user + cpu.system) / 1000)} ms CPU, tree ${watching.treeMode()}); API on ${state.server.socket}${listeners.tcp ? ` and http://${listeners.tcp.host}:${listeners.tcp.port}` : ''}`,
    );
  } catch (err) {
    await watching?.close();
    await listeners?.close();
    await buildDb.close();
    passLock.release();
    throw err;
  }
  loop.start();
  let stopped: Promise<void> | undefined;
  return {
    loop,
    watching: () => watching!,
    ...(listeners.tcp ? { tcp: listeners.tcp } : {}),
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        await rewatching;
        await watching!.close();
        await loop.stop();
        deferCacheSaves(false);
        await listeners!.close();
        if (!(await settleBackground(SETTLE_MS))) log(`stopped the hooks and notifications still running after ${SETTLE_MS / 1000}s`);
        await buildDb.close();
        passLock.release();
      })()),
  };
}
