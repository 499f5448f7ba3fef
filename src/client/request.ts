/**
 * Talking to a running daemon over its Unix socket. `daemonRequest` answers undefined when no
 * daemon listens (no socket file, connection refused, or no answer within the connect timeout).
 */
import { request, type ClientRequest } from 'node:http';

export interface DaemonResponse {
  status: number;
  body: unknown;
}

export function daemonRequest(
  socketPath: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  opts: { connectTimeoutMs?: number } = {},
): Promise<DaemonResponse | undefined> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
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
    settleUnconnected(req, opts.connectTimeoutMs ?? 1000, resolve, reject);
    req.end(payload);
  });
}

/**
 * Settles with undefined when `req` has not connected within `ms`, or fails before it connected
 * (no socket file, connection refused: no daemon listens); an error after connecting rejects.
 */
export function settleUnconnected(req: ClientRequest, ms: number, resolve: (v: undefined) => void, reject: (err: unknown) => void): void {
  let connected = false;
  const timer = setTimeout(() => {
    if (!connected) {
      req.destroy();
      resolve(undefined);
    }
  }, ms);
  const markConnected = () => {
    connected = true;
    clearTimeout(timer);
  };
  // A kept-alive socket is connected already: it never emits 'connect' again.
  req.on('socket', (s) => (s.connecting ? s.once('connect', markConnected) : markConnected()));
  req.on('error', (err) => {
    clearTimeout(timer);
    if (!connected) resolve(undefined);
    else reject(err);
  });
}
