/** GET /plan: what a pass would do now, without building (`portsync plan` while the daemon runs). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { planJson } from '../reconcile/result-json.js';
import type { DaemonContext } from './context.js';
import { sendJson } from './http.js';

export async function getPlan(ctx: DaemonContext, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  sendJson(res, 200, planJson(await ctx.loop.plan(url.searchParams.getAll('origin'))));
}
