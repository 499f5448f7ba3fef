/**
 * A request to the daemon whose answer may be streamed as NDJSON (POST /reconcile with
 * `stream`): each line is handed to `onLine` as it arrives, and the answer settles with the last
 * one. A plain JSON answer (a daemon that does not stream, or an error status) settles with it
 * whole. Undefined when no daemon listens, as daemonRequest.
 */
import { request } from 'node:http';
import { settleUnconnected, type DaemonResponse } from './request.js';

export function daemonStream(
  socketPath: string,
  path: string,
  body: unknown,
  onLine: (doc: unknown) => void,
  opts: { connectTimeoutMs?: number } = {},
): Promise<DaemonResponse | undefined> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, method: 'POST', path, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        const ndjson = /application\/x-ndjson/.test(String(res.headers['content-type']));
        let pending = '';
        let last: unknown = null;
        const parse = (text: string): unknown => {
          try {
            return JSON.parse(text);
          } catch {
            return text;
          }
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          pending += chunk;
          if (!ndjson) return;
          let nl: number;
          while ((nl = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            if (!line.trim()) continue;
            last = parse(line);
            onLine(last);
          }
        });
        res.on('error', reject);
        res.on('end', () => {
          if (pending.trim()) {
            last = parse(pending);
            if (ndjson) onLine(last);
          }
          resolve({ status: res.statusCode ?? 0, body: last });
        });
      },
    );
    settleUnconnected(req, opts.connectTimeoutMs ?? 1000, resolve, reject);
    req.end(payload);
  });
}
