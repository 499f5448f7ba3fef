/**
 * GET /dashboard/events: the daemon's live feed as server-sent events. Each event is one JSON
 * FeedEvent in `data:`. Besides the feed's events (every progress line, runs starting and
 * ending), a `status` event whenever the loop's state changes without one (a pass starting to
 * read the tree, a pass queued, a retry), and a comment every 15 s that keeps proxies from
 * closing an idle stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DaemonContext } from '../context.js';
import type { FeedEvent } from './feed.js';

const POLL_MS = 1000;
const HEARTBEAT_MS = 15_000;
/** A client that reads slower than this much is queued for is cut off (its browser reconnects). */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** What of the loop's state, when it changes, is worth a `status` event. */
function loopKey(ctx: DaemonContext): string {
  const s = ctx.loop.status();
  return JSON.stringify([
    s.current?.startedAt,
    s.current?.phase,
    s.pending?.reasons.length,
    s.lastPass?.runId,
    s.lastError?.at,
    s.retry?.at,
  ]);
}

export function openEventStream(ctx: DaemonContext, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  res.write(`retry: 2000\n: portsync live feed\n\n`);
  const send = (e: Pick<FeedEvent, 'kind'> & Partial<FeedEvent>) => {
    if (res.destroyed) return;
    if (res.writableLength > MAX_QUEUED_BYTES) return void res.destroy();
    res.write(`data: ${JSON.stringify(e)}\n\n`);
  };
  const unsubscribe = ctx.feed?.subscribe(send) ?? (() => undefined);
  let key = loopKey(ctx);
  const poll = setInterval(() => {
    const next = loopKey(ctx);
    if (next !== key) {
      key = next;
      send({ kind: 'status', at: new Date().toISOString() });
    }
  }, POLL_MS);
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const close = () => {
    clearInterval(poll);
    clearInterval(heartbeat);
    unsubscribe();
  };
  res.once('close', close);
  req.once('close', () => {
    if (res.destroyed) close();
  });
}
