/**
 * The web dashboard, under /dashboard/ on the daemon's socket and on server.listen: pages
 * (overview, runs, a run, a port, SQL), their assets, JSON for them (/dashboard/api/*) and the
 * live feed as server-sent events (/dashboard/events). GET only: no page starts a pass or writes;
 * the SQL page uses POST /sql, the read-only sandbox `portsync sql` uses.
 */
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assetText, dashboardHtml, isAssetName, type DashboardPage } from '../../report/page.js';
import { buildLogPath, portDetail, recentRunSummaries, runDetail, type RunSummary } from '../../report/runDetail.js';
import type { LoopStatus } from '../../reconcile/loop.js';
import type { DaemonContext } from '../context.js';
import { BadRequestError } from '../errors.js';
import { sendJson } from '../http.js';
import { openEventStream } from './sse.js';

export const DASHBOARD_PREFIX = '/dashboard';

const PAGES: Record<string, [DashboardPage, string]> = {
  '/': ['overview', 'Overview'],
  '/runs': ['runs', 'Runs'],
  '/run': ['run', 'Run'],
  '/port': ['port', 'Port'],
  '/sql': ['sql', 'SQL'],
};

const CONTENT_TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** Whether the dashboard answers this path (`/` sends the browser to it). */
export function isDashboardPath(pathname: string): boolean {
  return pathname === '/' || pathname === DASHBOARD_PREFIX || pathname.startsWith(`${DASHBOARD_PREFIX}/`);
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export async function serveDashboard(ctx: DaemonContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    req.resume();
    return sendJson(res, 405, { error: `the dashboard is read-only: use GET ${url.pathname}` });
  }
  if (url.pathname === '/' || url.pathname === DASHBOARD_PREFIX) {
    res.writeHead(302, { location: `${DASHBOARD_PREFIX}/` });
    return void res.end();
  }
  const path = url.pathname.slice(DASHBOARD_PREFIX.length);
  const page = PAGES[path];
  if (page) return send(res, 200, 'text/html; charset=utf-8', dashboardHtml(page[0], page[1]), { 'cache-control': 'no-cache' });
  if (path.startsWith('/assets/')) {
    const name = path.slice('/assets/'.length);
    if (!isAssetName(name)) return sendJson(res, 404, { error: `no dashboard asset ${name}` });
    return send(res, 200, CONTENT_TYPES[name.slice(name.lastIndexOf('.'))]!, assetText(name), { 'cache-control': 'no-cache' });
  }
  if (path === '/events') return openEventStream(ctx, req, res);
  const api = API[path];
  if (api) return api(ctx, res, url);
  sendJson(res, 404, {
    error: `no dashboard page ${url.pathname}; the pages are ${Object.keys(PAGES)
      .map((p) => DASHBOARD_PREFIX + p)
      .join(', ')}`,
  });
}

type Api = (ctx: DaemonContext, res: ServerResponse, url: URL) => Promise<void>;

function param(url: URL, name: string, example: string): string {
  const v = url.searchParams.get(name);
  if (!v) throw new BadRequestError(url.pathname, `the ${name} query parameter is required, e.g. ${url.pathname}?${name}=${example}`);
  return v;
}

/** Desired versus actual: the last pass's counts over the whole desired state, else the last run's. */
function counts(loop: LoopStatus, lastRun: RunSummary | undefined) {
  const p = loop.lastPass;
  if (p) {
    const s = p.stats;
    return {
      source: 'lastPass',
      at: p.finishedAt,
      desired: s.total,
      upToDate: s.success + s.skipped,
      built: s.success,
      failed: s.failed,
      blocked: s.blocked,
      ignored: s.ignored,
      interrupted: s.interrupted,
    };
  }
  if (lastRun) {
    const n = (v: number | null) => v ?? 0;
    return {
      source: 'lastRun',
      at: lastRun.finishedAt ?? lastRun.startedAt,
      desired: lastRun.total,
      upToDate: n(lastRun.success) + n(lastRun.skipped),
      built: lastRun.success,
      failed: lastRun.failed,
      blocked: lastRun.blocked,
      ignored: lastRun.ignored,
      interrupted: null,
    };
  }
  return {
    source: 'none',
    at: null,
    desired: null,
    upToDate: null,
    built: null,
    failed: null,
    blocked: null,
    ignored: null,
    interrupted: null,
  };
}

const API: Record<string, Api> = {
  '/api/overview': async (ctx, res) => {
    const loop = ctx.loop.status();
    const runs = ctx.db ? await recentRunSummaries(ctx.db, 30) : [];
    const live = ctx.feed?.snapshot() ?? { runId: null, queue: [], eta: null };
    sendJson(res, 200, {
      daemon: { pid: ctx.pid, startedAt: ctx.startedAt },
      passes: loop.passes,
      current: loop.current,
      pending: loop.pending,
      retry: loop.retry,
      lastError: loop.lastError,
      counts: counts(
        loop,
        runs.find((r) => r.finishedAt),
      ),
      ...live,
      runs,
    });
  },
  '/api/runs': async (ctx, res, url) => {
    const limit = Math.min(Math.max(Number(url.searchParams.get('limit')) || 200, 1), 10_000);
    sendJson(res, 200, { runs: ctx.db ? await recentRunSummaries(ctx.db, limit) : [] });
  },
  '/api/run': async (ctx, res, url) => {
    const id = param(url, 'id', '<run id>');
    const detail = ctx.db ? await runDetail(ctx.db, id) : undefined;
    if (!detail) return sendJson(res, 404, { error: `no run ${id} in the build database` });
    sendJson(res, 200, detail);
  },
  '/api/port': async (ctx, res, url) => {
    const origin = param(url, 'origin', 'misc/greet');
    if (!ctx.db) return sendJson(res, 503, { error: 'the build database is not available in this daemon (see its log)' });
    sendJson(res, 200, await portDetail(ctx.db, origin));
  },
  '/api/log': async (ctx, res, url) => {
    const id = param(url, 'build', '<build id>');
    // Only a path the database recorded for that build is ever read.
    const path = ctx.db ? await buildLogPath(ctx.db, id) : undefined;
    if (!path) return sendJson(res, 404, { error: path === null ? `build ${id} recorded no log` : `no build ${id} in the build database` });
    const stream = createReadStream(path);
    stream.once('error', (err: NodeJS.ErrnoException) =>
      sendJson(res, 404, { error: `the log of build ${id} (${path}) cannot be read: ${err.code ?? err.message}` }),
    );
    stream.once('open', () => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      stream.pipe(res);
    });
  },
};
