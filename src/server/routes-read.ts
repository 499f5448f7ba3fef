/** Read-only routes: GET /status, GET /runs, GET /history?origin=, POST /sql. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DaemonContext } from './context.js';
import { BadRequestError } from './errors.js';
import { parseJsonObject, readBody, sendJson } from './http.js';
import { lastGood, portHistory, recentRuns, userQuery } from './queries.js';
import { dbStatusParts, type StatusJson } from './status.js';

export async function getStatus(ctx: DaemonContext, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const loop = ctx.loop.status();
  const body: StatusJson = {
    daemon: { pid: ctx.pid, startedAt: ctx.startedAt, socket: ctx.socket, listen: ctx.listen ?? null, passes: loop.passes },
    config: loop.config,
    current: loop.current,
    pending: loop.pending,
    lastPass: loop.lastPass,
    lastError: loop.lastError,
    retry: loop.retry,
    ...(await dbStatusParts(ctx.db, url.searchParams.getAll('origin'))),
  };
  sendJson(res, 200, body);
}

function limitParam(url: URL, dflt: number): number {
  const raw = url.searchParams.get('limit');
  if (raw === null) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 10_000) throw new BadRequestError(url.pathname, `limit must be an integer from 1 to 10000, got "${raw}"`);
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

export async function postSql(ctx: DaemonContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = parseJsonObject(await readBody(req), '/sql');
  if (typeof body.sql !== 'string' || !body.sql.trim()) throw new BadRequestError('/sql', 'body must be {"sql": "SELECT ..."}');
  if (!ctx.db) return sendJson(res, 503, { error: 'the build database is not available in this daemon (see its log)' });
  sendJson(res, 200, await userQuery(ctx.db, body.sql));
}

/** GET /port-state: what the planner needs of every port (plan, why and fetch while the daemon runs). */
export async function getPortState(ctx: DaemonContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  sendJson(res, 200, { ports: ctx.db ? await ctx.db.allPortState() : [] });
}

/** GET /last-good?origin=: the port's last successful build and the commit it was built at. */
export async function getLastGood(ctx: DaemonContext, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const origin = url.searchParams.get('origin');
  if (!origin) throw new BadRequestError('/last-good', 'the origin query parameter is required, e.g. /last-good?origin=misc/greet');
  sendJson(res, 200, { lastGood: ctx.db ? await lastGood(ctx.db, origin) : null });
}
