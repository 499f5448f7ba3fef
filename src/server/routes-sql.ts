/**
 * POST /sql `{"sql": "SELECT ...", "format": "json" | "ndjson"}`: read-only user SQL within
 * SQL_LIMITS, on a DuckDB connection of its own (a long query holds up neither the passes' writes
 * nor GET /status), streamed (chunked) as DuckDB produces rows, and interrupted when the client
 * goes away.
 *
 * - `json` (the default): one document, `{"columns":[…],"rows":[[…],…],"truncated":false}`, plus
 *   `truncatedBy` and `notice` when rows were left out, or `error` when the query failed after
 *   rows were sent (before that the answer is a 400 `{"error":…}`).
 * - `ndjson`: a line `{"columns":[…]}`, a line per row `[…]`, then `{"end":{"rows":N,"truncated":…}}`
 *   or `{"error":"…","kind":"…"}` (what `portsync sql` reads).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { QueryCancelledError, QueryMemoryError, QueryTimeoutError } from '../builddb/sqlErrors.js';
import { streamUserSql, truncationNotice, type SqlSink, type SqlSummary } from '../builddb/sqlStream.js';
import type { DaemonContext } from './context.js';
import { BadRequestError } from './errors.js';
import { parseJsonObject, readBody, sendJson, writeChunk } from './http.js';
import { SQL_LIMITS, SQL_MAX_CONCURRENT } from './queries.js';

export type SqlWireFormat = 'json' | 'ndjson';

/** The kind of an in-band error, for clients that act on it. */
export function errorKind(err: unknown): string {
  if (err instanceof QueryTimeoutError) return 'timeout';
  if (err instanceof QueryMemoryError) return 'memory';
  return 'sql';
}

interface Writer {
  sink: SqlSink;
  end(s: SqlSummary): void;
  fail(err: unknown): void;
}

function endFields(s: SqlSummary) {
  const notice = truncationNotice(s, SQL_LIMITS);
  return { rows: s.rows, truncated: s.truncated !== null, ...(s.truncated ? { truncatedBy: s.truncated, notice } : {}) };
}

function jsonWriter(res: ServerResponse): Writer {
  let first = true;
  return {
    sink: {
      begin: (columns) => {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        return writeChunk(res, `{"columns":${JSON.stringify(columns)},"rows":[\n`);
      },
      rows: (_rows, json) => {
        const text = (first ? '' : ',\n') + json.join(',\n');
        first = false;
        return writeChunk(res, text);
      },
    },
    end: (s) => {
      const { rows: _n, ...rest } = endFields(s);
      res.end(`\n],${JSON.stringify(rest).slice(1)}`);
    },
    fail: (err) => res.end(`\n],"truncated":true,"error":${JSON.stringify((err as Error).message)}}`),
  };
}

function ndjsonWriter(res: ServerResponse): Writer {
  return {
    sink: {
      begin: (columns) => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
        return writeChunk(res, `${JSON.stringify({ columns })}\n`);
      },
      rows: (_rows, json) => writeChunk(res, `${json.join('\n')}\n`),
    },
    end: (s) => res.end(`${JSON.stringify({ end: endFields(s) })}\n`),
    fail: (err) => res.end(`${JSON.stringify({ error: (err as Error).message, kind: errorKind(err) })}\n`),
  };
}

/** User queries running in each daemon. */
const running = new WeakMap<DaemonContext, number>();

export async function postSql(ctx: DaemonContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = parseJsonObject(await readBody(req), '/sql');
  if (typeof body.sql !== 'string' || !body.sql.trim())
    throw new BadRequestError('/sql', 'body must be {"sql": "SELECT ..."} (optionally with "format": "json" or "ndjson")');
  const format = body.format ?? 'json';
  if (format !== 'json' && format !== 'ndjson') {
    throw new BadRequestError(
      '/sql',
      `format must be "json" (one document, the default) or "ndjson" (a line per row), got ${JSON.stringify(format)}`,
    );
  }
  if (!ctx.db) return sendJson(res, 503, { error: 'the build database is not available in this daemon (see its log)' });
  const now = running.get(ctx) ?? 0;
  if (now >= SQL_MAX_CONCURRENT) {
    return sendJson(res, 503, {
      error: `${now} SQL queries are already running in this daemon (its limit); try again when one has finished`,
    });
  }
  running.set(ctx, now + 1);
  const writer = format === 'json' ? jsonWriter(res) : ndjsonWriter(res);
  const abort = new AbortController();
  // The response closing before it ended is the client going away. (A request's own 'close'
  // comes as soon as its body has been read, so it cannot tell.)
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.on('close', onClose);
  if (req.socket.destroyed) abort.abort();
  const t0 = performance.now();
  try {
    writer.end(await streamUserSql(ctx.db, body.sql, SQL_LIMITS, writer.sink, abort.signal));
  } catch (err) {
    if (abort.signal.aborted || err instanceof QueryCancelledError) {
      ctx.log(`POST /sql: query cancelled after ${Math.round(performance.now() - t0)} ms: the client went away`);
      res.destroy();
      return;
    }
    if (!res.headersSent) throw err; // the router answers it (400 for a rejected query)
    writer.fail(err);
  } finally {
    res.off('close', onClose);
    running.set(ctx, (running.get(ctx) ?? 1) - 1);
  }
}
