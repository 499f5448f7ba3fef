/** The daemon's listeners: the Unix socket (always) and an optional TCP address. */
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { dirname } from 'node:path';
import { daemonRequest } from '../client/request.js';
import { DaemonRunningError, InsecureListenError } from './errors.js';

/** Removes a stale socket file; throws DaemonRunningError when a daemon answers on it. */
export async function claimSocket(socket: string): Promise<void> {
  if (!existsSync(socket)) {
    mkdirSync(dirname(socket), { recursive: true });
    return;
  }
  const answer = await daemonRequest(socket, 'GET', '/status?ports=none', undefined, { connectTimeoutMs: 1000 });
  if (answer) {
    const pid = (answer.body as { daemon?: { pid?: number } } | null)?.daemon?.pid;
    throw new DaemonRunningError(socket, pid);
  }
  rmSync(socket, { force: true });
}

function listenOn(server: Server, target: string | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (typeof target === 'string') server.listen(target, done);
    else server.listen(target.port, target.host, done);
  });
}

/** `host:port`, `[v6]:port` or `:port`. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`server.listen "${listen}" is not host:port`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}

/** Connections per listener: far below the descriptor limit, far above what the CLI and hooks need. */
export const MAX_CONNECTIONS = 256;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * Whether `listen` may be served: a loopback address always; another one only with a webhook
 * secret in the environment, or when builds.yaml explicitly allows it (then with a warning).
 */
export function checkListen(
  server: { listen?: string; webhookSecretEnv: string; allowInsecure: boolean },
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): void {
  if (!server.listen || LOOPBACK.test(parseListen(server.listen).host) || env[server.webhookSecretEnv]) return;
  if (!server.allowInsecure) throw new InsecureListenError(server.listen, server.webhookSecretEnv);
  log(
    `warning: serving ${server.listen} without a webhook secret (server.allowInsecure): anyone who reaches it can trigger passes and read the build history`,
  );
}

export interface Listeners {
  /** The TCP address actually bound (port 0 picks one), when listening on TCP. */
  tcp?: { host: string; port: number };
  close(): Promise<void>;
}

export async function startListeners(
  handler: RequestListener,
  tcpHandler: RequestListener,
  socket: string,
  listen: string | undefined,
): Promise<Listeners> {
  await claimSocket(socket);
  const servers: Server[] = [];
  const unix = createServer(handler);
  // The socket is the daemon's acting API: only its owner may connect, whatever the umask was.
  const umask = process.umask(0o077);
  try {
    await listenOn(unix, socket);
  } finally {
    process.umask(umask);
  }
  chmodSync(socket, 0o600);
  servers.push(unix);
  let tcp: Listeners['tcp'];
  if (listen) {
    const s = createServer(tcpHandler);
    try {
      await listenOn(s, parseListen(listen));
    } catch (err) {
      await new Promise((r) => unix.close(r));
      rmSync(socket, { force: true });
      throw err;
    }
    const addr = s.address();
    if (addr && typeof addr === 'object') tcp = { host: addr.address, port: addr.port };
    servers.push(s);
  }
  for (const s of servers) {
    s.requestTimeout = 5 * 60_000;
    // Idle or half-sent requests cannot pile up and exhaust the descriptors the scans and builds need.
    s.headersTimeout = 10_000;
    s.keepAliveTimeout = 5_000;
    s.maxConnections = MAX_CONNECTIONS;
  }
  return {
    ...(tcp ? { tcp } : {}),
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.close(() => r());
              s.closeAllConnections();
            }),
        ),
      );
      rmSync(socket, { force: true });
    },
  };
}
