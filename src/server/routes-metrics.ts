import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DaemonContext } from './context.js';
import { sendJson } from './http.js';

/** GET /metrics */
export async function getMetrics(ctx: DaemonContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!ctx.metrics) return sendJson(res, 503, { error: 'this daemon keeps no metrics' });
  const text = await ctx.metrics.registry.metrics();
  res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
