/**
 * When a running pass should end, from recorded build times: each port still to build takes the
 * median of its own past successful builds (or, never built, the median of all builds); a port
 * building now takes what its median leaves of it; the sum is shared by the workers.
 */
import type { BuildDB } from '../builddb/db.js';

export interface BuildDurations {
  byOrigin: ReadonlyMap<string, number>;
  /** Median of every recorded successful build; null when none is recorded. */
  overall: number | null;
}

export interface PassEta {
  /** Estimated time left, ms. */
  remainingMs: number;
  finishAt: string;
  /** Ports still to build or building. */
  ports: number;
  /** Of those, how many have build times of their own (the rest use the overall median). */
  fromOwnHistory: number;
  workers: number;
}

/** Median build time per origin and overall, from the successful builds recorded. */
export async function buildDurations(db: BuildDB): Promise<BuildDurations> {
  const per = await db.query(
    `SELECT origin, median(duration_ms)::DOUBLE AS ms FROM builds WHERE status = 'success' AND duration_ms IS NOT NULL GROUP BY origin`,
    { maxRows: 10_000_000 },
  );
  const all = await db.query(`SELECT median(duration_ms)::DOUBLE FROM builds WHERE status = 'success' AND duration_ms IS NOT NULL`);
  const overall = all.rows[0]?.[0];
  return {
    byOrigin: new Map(per.rows.map((r) => [String(r[0]), Number(r[1])])),
    overall: overall === null || overall === undefined ? null : Number(overall),
  };
}

/**
 * The estimate for `queued` ports (to build, not started) and `building` ones (started at
 * `since`), or null when there is nothing to estimate from.
 */
export function passEta(
  queued: readonly string[],
  building: readonly { origin: string; since: string }[],
  d: BuildDurations,
  workers: number,
  now = Date.now(),
): PassEta | null {
  const ports = queued.length + building.length;
  if (ports === 0) return { remainingMs: 0, finishAt: new Date(now).toISOString(), ports: 0, fromOwnHistory: 0, workers };
  let fromOwnHistory = 0;
  const expected = (origin: string): number | null => {
    const own = d.byOrigin.get(origin);
    if (own !== undefined) fromOwnHistory++;
    return own ?? d.overall;
  };
  let total = 0;
  for (const o of queued) {
    const ms = expected(o);
    if (ms === null) return null;
    total += ms;
  }
  for (const b of building) {
    const ms = expected(b.origin);
    if (ms === null) return null;
    total += Math.max(0, ms - (now - Date.parse(b.since)));
  }
  const remainingMs = Math.round(total / Math.max(1, Math.min(workers, ports)));
  return { remainingMs, finishAt: new Date(now + remainingMs).toISOString(), ports, fromOwnHistory, workers };
}
