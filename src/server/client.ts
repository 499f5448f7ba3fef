/**
 * Talking to a running daemon over its Unix socket. `daemonRequest` answers undefined when no
 * daemon listens (no socket file, connection refused, or no answer within the connect timeout).
 */
import { request } from 'node:http';

export interface DaemonResponse {
  status: number;
  body: unknown;
}

const NOT_LISTENING = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK', 'EACCES']);

export function daemonRequest(
  socketPath: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  opts: { connectTimeoutMs?: number } = {},
): Promise<DaemonResponse | undefined> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    let connected = false;
    const req = request(
      { socketPath, method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    const timer = setTimeout(() => {
      if (!connected) {
        req.destroy();
        resolve(undefined);
      }
    }, opts.connectTimeoutMs ?? 1000);
    const markConnected = () => {
      connected = true;
      clearTimeout(timer);
    };
    // A kept-alive socket is connected already: it never emits 'connect' again.
    req.on('socket', (s) => (s.connecting ? s.once('connect', markConnected) : markConnected()));
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!connected && err.code && NOT_LISTENING.has(err.code)) resolve(undefined);
      else if (!connected) resolve(undefined);
      else reject(err);
    });
    req.end(payload);
  });
}
