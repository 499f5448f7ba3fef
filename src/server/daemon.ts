/**
 * `portsync watch` put together: the one read-write database connection, the pass loop, the
 * watchers and the HTTP API. `stop()` ends it cleanly: no new passes, the running pass
 * interrupted and recorded, the database closed, the socket removed.
 */
import { BuildDB } from '../builddb/db.js';
import { FailSafeBuildDB } from '../builddb/failsafe.js';
import type { DesiredState } from '../config/types.js';
import { PassLoop, type BeforePass } from '../reconcile/loop.js';
import { startWatching, type Watching } from '../reconcile/watch.js';
import type { DaemonContext } from './context.js';
import { claimSocket, startListeners, type Listeners } from './listen.js';
import { RateLimiter } from './ratelimit.js';
import { makeHandler } from './router.js';

export interface DaemonOptions {
  configFile: string;
  state: DesiredState;
  log: (line: string) => void;
  beforePass?: BeforePass;
  backoff?: { initialMs: number; maxMs: number };
}

export interface Daemon {
  loop: PassLoop;
  tcp?: { host: string; port: number };
  stop(): Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { state, log } = opts;
  const startedAt = new Date().toISOString();
  await claimSocket(state.server.socket); // before the database: "a daemon already runs" beats "database locked"
  // Opened once, read-write: DuckDB's lock makes the daemon the only writer; a lock held by
  // someone else is an error here (DatabaseLockedError names the holder).
  const buildDb = await BuildDB.open(state.paths.database, { processInfo: `portsync watch (pid ${process.pid})` });
  if (buildDb.recovered.builds || buildDb.recovered.runs) {
    log(`builddb: marked ${buildDb.recovered.builds} builds and ${buildDb.recovered.runs} runs left running by a dead process as interrupted`);
  }
  const db = new FailSafeBuildDB(buildDb, log);
  let watching: Watching | undefined;
  let listeners: Listeners | undefined;
  const loop = new PassLoop({ configFile: opts.configFile, state, db, log, ...(opts.beforePass ? { beforePass: opts.beforePass } : {}), ...(opts.backoff ? { backoff: opts.backoff } : {}) });
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
      log,
    };
    listeners = await startListeners(makeHandler(ctx, 'unix'), makeHandler(ctx, 'tcp'), state.server.socket, state.server.listen);
    const t0 = performance.now();
    watching = await startWatching(state, {
      onChange: (kind, path) => void loop.requestPass('watch', `${kind} ${path}`),
      log,
    });
    log(`watching ${watching.watchedDirs()} directories (ready in ${Math.round(performance.now() - t0)} ms); API on ${state.server.socket}${listeners.tcp ? ` and http://${listeners.tcp.host}:${listeners.tcp.port}` : ''}`);
  } catch (err) {
    await watching?.close();
    await listeners?.close();
    await buildDb.close();
    throw err;
  }
  loop.start();
  let stopped: Promise<void> | undefined;
  return {
    loop,
    ...(listeners.tcp ? { tcp: listeners.tcp } : {}),
    stop: () =>
      (stopped ??= (async () => {
        await watching!.close();
        await loop.stop();
        await listeners!.close();
        await buildDb.close();
      })()),
  };
}
