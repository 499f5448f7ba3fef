/**
 * POST /reconcile `{"wait": true, "stream": true}`: the requested pass's progress as it happens,
 * as NDJSON (application/x-ndjson), then its result:
 *
 *   {"progress": {"method": "portStarted", "args": [0, "misc/greet"]}, "line": "[…] [0] start misc/greet"}
 *   …
 *   {"result": <the contract's reconcile document>}      or      {"error": "…", "status": 500}
 *
 * `method`/`args` are the Progress calls of the pass (src/builder/progress.ts): the CLI replays
 * them into its own display, so it prints what a local pass prints. `status` in an error line is
 * the HTTP status the unstreamed request would have answered.
 */
import type { ServerResponse } from 'node:http';
import { LoopStoppedError } from '../reconcile/loop.js';
import type { PassResult } from '../reconcile/passResult.js';
import { reconcileJson } from '../reconcile/result-json.js';
import type { DaemonContext } from './context.js';
import type { FeedEvent } from './dashboard/feed.js';

/**
 * Streams the pass `pass` will settle with. Call it in the same tick as requestPass: a pass
 * running then is not the requested one (requests during a pass get the next), so its events
 * are left out until it ends.
 */
export async function streamPass(ctx: DaemonContext, res: ServerResponse, pass: Promise<PassResult>, busy: boolean): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache' });
  let skipping = busy;
  const write = (doc: unknown) => {
    if (!res.destroyed) res.write(`${JSON.stringify(doc)}\n`);
  };
  const onEvent = (e: FeedEvent) => {
    if (skipping) {
      if (e.kind === 'run-finished' || e.kind === 'pass-failed') skipping = false;
      return;
    }
    if (e.kind === 'progress' && e.call) write({ progress: e.call, ...(e.line ? { line: e.line } : {}) });
  };
  const unsubscribe = ctx.feed?.subscribe(onEvent) ?? (() => undefined);
  try {
    const result = await pass;
    res.end(`${JSON.stringify({ result: reconcileJson(result) })}\n`);
  } catch (err) {
    res.end(`${JSON.stringify({ error: (err as Error)?.message ?? String(err), status: err instanceof LoopStoppedError ? 503 : 500 })}\n`);
  } finally {
    unsubscribe();
  }
}
