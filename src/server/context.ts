import type { BuildDB } from '../builddb/db.js';
import type { PassLoop } from '../reconcile/loop.js';
import type { RateLimiter } from './ratelimit.js';
import type { DaemonMetrics } from './metrics.js';
import type { PassTracker } from './passTracker.js';
import type { PassFeed } from './dashboard/feed.js';

/** What the daemon's routes work with. */
export interface DaemonContext {
  pid: number;
  startedAt: string;
  configFile: string;
  socket: string;
  listen: string | undefined;
  loop: PassLoop;
  /** The daemon's one read-write connection; null when the database could not be opened. */
  db: BuildDB | null;
  /** Limits POST /hooks/git per remote address. */
  hookLimiter: RateLimiter;
  /** Prometheus metrics of the passes (GET /metrics). */
  metrics?: DaemonMetrics;
  /** The current or last pass's plan and outcomes (GET /status: desired versus actual, ETA). */
  passes?: PassTracker;
  /** The passes' live feed (dashboard events, streamed reconcile). */
  feed?: PassFeed;
  log: (line: string) => void;
}
