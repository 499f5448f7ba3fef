import type { BuildDB } from '../builddb/db.js';
import type { PassLoop } from '../reconcile/loop.js';
import type { RateLimiter } from './ratelimit.js';
import type { DaemonMetrics } from './metrics.js';

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
  log: (line: string) => void;
}
