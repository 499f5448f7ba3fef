/**
 * POST /sql as a stream (`format: "ndjson"`, see routes-sql.ts): rows reach the sink as the daemon
 * sends them, so `portsync sql` prints while the query runs and holds one piece at a time.
 */
import { request } from 'node:http';
import type { SqlSink, SqlSummary } from '../builddb/sqlStream.js';
import { PortsyncError } from '../errors.js';
import { DaemonRequestError } from './errors.js';

/** The daemon ran the query and it failed there (after the answer had begun). */
export class RemoteQueryError extends PortsyncError {
  constructor(
    readonly socket: string,
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RemoteSqlSummary extends SqlSummary {
  /** The daemon's explanation when rows were left out. */
  notice: string | null;
}

interface EndLine {
  end: { rows: number; truncated: boolean; truncatedBy?: 'rows' | 'bytes'; notice?: string };
}
interface ErrorLine {
  error: string;
  kind?: string;
}

/** Sends `sql` to the daemon on `socket` and hands the rows to `sink` as they arrive. */
export function streamSqlFromDaemon(socket: string, sql: string, sink: SqlSink): Promise<RemoteSqlSummary> {
  const path = '/sql';
  const payload = Buffer.from(JSON.stringify({ sql, format: 'ndjson' }));
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: socket, method: 'POST', path, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        readAnswer(socket, res, sink).then(resolve, reject);
      },
    );
    req.on('error', (err) => reject(new DaemonRequestError(socket, path, 0, `the daemon stopped answering (${err.message})`)));
    req.end(payload);
  });
}

async function readAnswer(socket: string, res: AsyncIterable<Buffer> & { statusCode?: number }, sink: SqlSink): Promise<RemoteSqlSummary> {
  const path = '/sql';
  if (res.statusCode !== 200) {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c);
    const text = Buffer.concat(chunks).toString('utf8');
    let detail = text;
    try {
      detail = (JSON.parse(text) as ErrorLine).error ?? text;
    } catch {
      // not JSON: the text itself
    }
    throw new DaemonRequestError(socket, path, res.statusCode ?? 0, detail);
  }
  let columns: string[] = [];
  let count = 0;
  let bytes = 0;
  let rest = '';
  let end: EndLine['end'] | null = null;
  try {
    // One network piece at a time: awaiting the sink pauses the socket (backpressure to the daemon).
    for await (const piece of res) {
      const lines = (rest + piece.toString('utf8')).split('\n');
      rest = lines.pop()!;
      const rows: unknown[][] = [];
      const json: string[] = [];
      for (const line of lines) {
        if (!line) continue;
        const v = JSON.parse(line) as unknown;
        if (Array.isArray(v)) {
          rows.push(v);
          json.push(line);
          bytes += Buffer.byteLength(line) + 1;
        } else if (v && typeof v === 'object' && 'columns' in v) {
          columns = (v as { columns: string[] }).columns;
          await sink.begin(columns);
        } else if (v && typeof v === 'object' && 'end' in v) {
          end = (v as EndLine).end;
        } else {
          const e = v as ErrorLine;
          if (rows.length) await sink.rows(rows, json);
          throw new RemoteQueryError(socket, e.kind ?? 'sql', e.error);
        }
      }
      count += rows.length;
      if (rows.length) await sink.rows(rows, json);
    }
  } catch (err) {
    if (err instanceof PortsyncError) throw err;
    throw new DaemonRequestError(socket, path, 200, `the answer broke off: ${(err as Error).message}`);
  }
  if (!end)
    throw new DaemonRequestError(socket, path, 200, `the answer ended after ${count} rows without its last line (did the daemon stop?)`);
  return { columns, rows: count, bytes, truncated: end.truncated ? (end.truncatedBy ?? 'rows') : null, notice: end.notice ?? null };
}
