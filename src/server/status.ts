/** The answer of GET /status and `portsync status --json`, with or without a daemon. */
import type { BuildDB } from '../builddb/db.js';
import type { ConfigIssue } from '../config/errors.js';
import { formatIssue } from '../config/errors.js';
import type { LoopStatus } from '../reconcile/loop.js';
import { portStatuses, recentRuns, type PortStatus, type RunJson } from './queries.js';
import type { DesiredStatus } from './desired.js';
import type { PassEta } from './eta.js';

export interface StatusJson {
  daemon: { pid: number; startedAt: string; socket: string; listen: string | null; passes: number } | null;
  config: { file: string; errors: ConfigIssue[]; errorText: string[]; lastGoodAt: string | null };
  current: LoopStatus['current'];
  pending: LoopStatus['pending'];
  lastPass: LoopStatus['lastPass'];
  lastError: LoopStatus['lastError'];
  retry: LoopStatus['retry'];
  /** The newest run in the database. */
  lastRun: RunJson | null;
  ports: PortStatus[];
  /** Every port of the desired state, desired versus actual, and the orphans (null: not known yet, e.g. before the daemon's first pass). */
  desired?: DesiredStatus | null;
  /** Why `desired` could not be made (the tree unreadable), when it could not. */
  desiredError?: string;
  /** When the running pass should end, from recorded build times (null: no pass building, or no build times recorded). */
  eta?: PassEta | null;
}

type DbStatus = { lastRun: RunJson | null; ports: PortStatus[] };
/** The last answer per database: polled status pages ask again and again between two writes. */
const lastAnswer = new WeakMap<BuildDB, { generation: number; origins: string; answer: DbStatus }>();

export async function dbStatusParts(db: BuildDB | null, origins: readonly string[], opts: { ports?: boolean } = {}): Promise<DbStatus> {
  if (!db) return { lastRun: null, ports: [] };
  if (opts.ports === false) return { lastRun: (await recentRuns(db, 1))[0] ?? null, ports: [] };
  const generation = db.generation;
  const key = origins.join('\0');
  const last = lastAnswer.get(db);
  if (last && last.generation === generation && last.origins === key) return last.answer;
  const [runs, ports] = await Promise.all([recentRuns(db, 1), portStatuses(db, origins)]);
  const answer = { lastRun: runs[0] ?? null, ports };
  // Only when no write started or ended meanwhile (the read may have seen half of it).
  if (db.generation === generation && !db.readOnly) lastAnswer.set(db, { generation, origins: key, answer });
  return answer;
}

/** Status when no daemon runs: what the database says, and builds.yaml's own errors. */
export async function offlineStatus(
  db: BuildDB | null,
  configFile: string,
  configErrors: ConfigIssue[],
  origins: readonly string[],
): Promise<StatusJson> {
  return {
    daemon: null,
    config: { file: configFile, errors: configErrors, errorText: configErrors.map(formatIssue), lastGoodAt: null },
    current: null,
    pending: null,
    lastPass: null,
    lastError: null,
    retry: null,
    ...(await dbStatusParts(db, origins)),
  };
}
