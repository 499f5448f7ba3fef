/** Read-only routes: GET /status, GET /runs, GET /history?origin=, POST /sql. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DaemonContext } from './context.js';
import { BadRequestError } from './errors.js';
import { sendJson } from './http.js';
import { lastGood, portHistory, recentRuns } from './queries.js';
import { dbStatusParts, type StatusJson } from './status.js';
import { passDesired } from './desired.js';

export async function getStatus(ctx: DaemonContext, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const loop = ctx.loop.status();
  // ?ports=none: the daemon's state without the per-port lists (a whole tree is megabytes; for polling).
  const ports = url.searchParams.get('ports');
  if (ports !== null && ports !== 'none')
    throw new BadRequestError('/status', `ports must be "none" (or absent for every port), got "${ports}"`);
  const brief = ports === 'none';
  const origins = url.searchParams.getAll('origin');
  const db = await dbStatusParts(ctx.db, origins, { ports: !brief });
  // Desired versus actual, from the current (or last) pass; every row is needed for the orphans.
  const pass = ctx.passes?.latest;
  const rows = !pass ? [] : !brief && origins.length === 0 ? db.ports : (await dbStatusParts(ctx.db, [])).ports;
  const tracked = pass ? passDesired(pass, rows, loop.current?.building ?? [], origins) : null;
  const body: StatusJson = {
    daemon: { pid: ctx.pid, startedAt: ctx.startedAt, socket: ctx.socket, listen: ctx.listen ?? null, passes: loop.passes },
    config: loop.config,
    current: loop.current,
    pending: loop.pending,
    lastPass: brief && loop.lastPass ? { ...loop.lastPass, ports: [] } : loop.lastPass,
    lastError: loop.lastError,
    retry: loop.retry,
    ...db,
    desired: tracked ? (brief ? { ...tracked.desired, ports: [], orphans: [] } : tracked.desired) : null,
    eta: tracked?.eta ?? null,
  };
  sendJson(res, 200, body);
}

function limitParam(url: URL, dflt: number): number {
  const raw = url.searchParams.get('limit');
  if (raw === null) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 10_000)
    throw new BadRequestError(url.pathname, `limit must be an integer from 1 to 10000, got "${raw}"`);
  return n;
}

export async function getRuns(ctx: DaemonContext, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  sendJson(res, 200, { runs: ctx.db ? await recentRuns(ctx.db, limitParam(url, 20)) : [] });
}

export async function getHistory(ctx: DaemonContext, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const origin = url.searchParams.get('origin');
  if (!origin) throw new BadRequestError('/history', 'the origin query parameter is required, e.g. /history?origin=misc/greet');
  sendJson(res, 200, { origin, builds: ctx.db ? await portHistory(ctx.db, origin, limitParam(url, 50)) : [] });
}

/** POST /sql: streamed, with its own limits and connection (routes-sql.ts). */
export { postSql } from './routes-sql.js';

/**
 * GET /port-state: what a plan needs of every port, without the key parts (`why` while the daemon
 * runs); `?origin=…` (repeated): those ports', key parts included (makePlanReadingParts).
 */
export async function getPortState(ctx: DaemonContext, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const origins = url.searchParams.getAll('origin');
  if (!ctx.db) return sendJson(res, 200, { ports: [] });
  sendJson(res, 200, { ports: origins.length ? await ctx.db.knownStates(origins) : await ctx.db.knownStatesWithoutParts() });
}

/** GET /last-good?origin=: the port's last successful build and the commit it was built at. */
export async function getLastGood(ctx: DaemonContext, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const origin = url.searchParams.get('origin');
  if (!origin) throw new BadRequestError('/last-good', 'the origin query parameter is required, e.g. /last-good?origin=misc/greet');
  sendJson(res, 200, { lastGood: ctx.db ? await lastGood(ctx.db, origin) : null });
}
