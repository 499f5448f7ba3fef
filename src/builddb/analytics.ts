/**
 * The questions users ask of the build history, as SQL for `query()` (so `portsync report`, the
 * daemon and `portsync sql` all answer them the same way). Numbers are inlined after validation
 * because `query()` takes no parameters.
 */
export interface AnalyticsOptions {
  /** Rows at most (slowest, failureRate, runs). Default 20. */
  limit?: number;
  /** Only builds started in the last N days (buildsPerDay). Default: all. */
  days?: number;
  /** Only this port's phases (phaseTime). */
  origin?: string;
}

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`analytics: ${name} must be a positive integer, got ${v}`);
  return n;
}

function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

export const ANALYTICS = {
  /** Ports whose successful builds take longest on average. */
  slowest: (o: AnalyticsOptions = {}) => `SELECT origin, count(*) AS builds, round(avg(duration_ms))::BIGINT AS avg_ms,
  round(median(duration_ms))::BIGINT AS median_ms, max(duration_ms) AS max_ms
FROM builds WHERE status = 'success'
GROUP BY origin ORDER BY avg_ms DESC, origin LIMIT ${positiveInt('limit', o.limit, 20)}`,

  /** Ports that fail most often (finished builds only). */
  failureRate: (o: AnalyticsOptions = {}) => `SELECT origin, count(*) AS builds, count(*) FILTER (WHERE status = 'failed') AS failed,
  round(100.0 * count(*) FILTER (WHERE status = 'failed') / count(*), 1) AS failure_pct, max(finished_at) FILTER (WHERE status = 'failed') AS last_failure
FROM builds WHERE status <> 'running'
GROUP BY origin HAVING count(*) FILTER (WHERE status = 'failed') > 0
ORDER BY failure_pct DESC, builds DESC, origin LIMIT ${positiveInt('limit', o.limit, 20)}`,

  /** Builds, outcomes and build hours per UTC day. */
  // Day arithmetic on epoch seconds: date_trunc on TIMESTAMPTZ goes through ICU per row and is 6× slower.
  buildsPerDay: (
    o: AnalyticsOptions = {},
  ) => `SELECT DATE '1970-01-01' + CAST(epoch_ms(started_at) // 86400000 AS INTEGER) AS day, count(*) AS builds,
  count(*) FILTER (WHERE status = 'success') AS success, count(*) FILTER (WHERE status = 'failed') AS failed,
  round(sum(duration_ms) / 3600000.0, 2) AS build_hours
FROM builds${o.days === undefined ? '' : ` WHERE started_at >= now() - INTERVAL ${positiveInt('days', o.days, 30)} DAY`}
GROUP BY day ORDER BY day`,

  /** Where build time goes, per phase. */
  phaseTime: (o: AnalyticsOptions = {}) => `SELECT phase, count(*) AS runs, round(avg(duration_ms))::BIGINT AS avg_ms,
  round(median(duration_ms))::BIGINT AS median_ms, sum(duration_ms) AS total_ms,
  round(100.0 * sum(duration_ms) / sum(sum(duration_ms)) OVER (), 1) AS pct_of_time, count(*) FILTER (WHERE exit_code <> 0) AS failures
FROM build_phases${o.origin === undefined ? '' : ` WHERE build_id IN (SELECT build_id FROM builds WHERE origin = ${sqlString(o.origin)})`}
GROUP BY phase ORDER BY total_ms DESC`,

  /** The latest reconcile passes. */
  runs: (o: AnalyticsOptions = {}) => `SELECT run_id, trigger, git_commit, started_at, finished_at, status, total, success, failed,
  skipped, ignored, blocked, duration_ms, error
FROM runs ORDER BY started_at DESC LIMIT ${positiveInt('limit', o.limit, 20)}`,
} as const satisfies Record<string, (o?: AnalyticsOptions) => string>;

export type AnalyticsName = keyof typeof ANALYTICS;
