/** Dispatches requests to the route modules and turns typed errors into HTTP statuses. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { QueryRejectedError } from '../builddb/errors.js';
import { LoopStoppedError } from '../reconcile/loop.js';
import type { DaemonContext } from './context.js';
import { BadRequestError, BodyTooLargeError } from './errors.js';
import { sendJson } from './http.js';
import { postGitHook, postReconcile, postTrigger } from './routes-passes.js';
import { getPlan } from './routes-plan.js';
import { isDashboardPath, serveDashboard } from './dashboard/routes.js';
import { getMetrics } from './routes-metrics.js';
import { UnknownOriginError } from '../reconcile/errors.js';
import { getHistory, getLastGood, getPortState, getRuns, getStatus, postSql } from './routes-read.js';

type Handler = (ctx: DaemonContext, req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

const ROUTES: Record<string, Handler> = {
  'GET /status': getStatus,
  'GET /runs': getRuns,
  'GET /history': getHistory,
  'GET /port-state': getPortState,
  'GET /last-good': getLastGood,
  'GET /plan': getPlan,
  'GET /metrics': getMetrics,
  'POST /sql': postSql,
  'POST /reconcile': postReconcile,
  'POST /trigger': postTrigger,
  'POST /hooks/git': postGitHook,
};

function statusOf(err: unknown): number {
  if (err instanceof BodyTooLargeError) return 413;
  if (err instanceof BadRequestError || err instanceof QueryRejectedError || err instanceof UnknownOriginError) return 400;
  if (err instanceof LoopStoppedError) return 503;
  return 500;
}

/**
 * Over TCP, when a webhook secret is configured, only the webhook and the read-only GET routes
 * are served: the POST routes that act (reconcile, trigger, sql) would otherwise let anyone who
 * reaches the address bypass the secret. The Unix socket (file permissions) serves everything.
 */
const TCP_WITH_SECRET = new Set([
  'GET /metrics',
  'GET /status',
  'GET /runs',
  'GET /history',
  'GET /port-state',
  'GET /last-good',
  'POST /hooks/git',
]);

export function makeHandler(ctx: DaemonContext, via: 'unix' | 'tcp' = 'unix') {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://portsync');
    const key = `${req.method} ${url.pathname}`;
    // The dashboard (read-only pages, GET only) is served on both listeners, as the read routes are.
    const route = ROUTES[key] ?? (isDashboardPath(url.pathname) ? serveDashboard : undefined);
    if (Object.hasOwn(ROUTES, key) && via === 'tcp' && process.env[ctx.loop.state.server.webhookSecretEnv] && !TCP_WITH_SECRET.has(key)) {
      req.resume();
      sendJson(res, 403, {
        error: `${key} is not served on ${ctx.listen} while a webhook secret is set; use the Unix socket (${ctx.socket}) — the portsync CLI does`,
      });
      return;
    }
    if (!route) {
      const known = Object.keys(ROUTES).filter((k) => k.endsWith(` ${url.pathname}`));
      sendJson(res, known.length ? 405 : 404, {
        error: known.length ? `use ${known.join(' or ')}` : `no route ${req.method} ${url.pathname}`,
      });
      return;
    }
    route(ctx, req, res, url).catch((err: unknown) => {
      const status = statusOf(err);
      if (status === 500) ctx.log(`${req.method} ${url.pathname}: ${(err as Error)?.stack ?? err}`);
      if (status === 413) {
        // Discard the rest so the client can read the answer, but cut off a sender that does not stop.
        res.setHeader('connection', 'close');
        let discarded = 0;
        req.on('data', (c: Buffer) => {
          if ((discarded += c.length) > 8 * 1024 * 1024) req.destroy();
        });
        req.resume();
      }
      sendJson(res, status, { error: (err as Error)?.message ?? String(err) });
    });
  };
}
