/** builds.yaml's `executor:` — where builds run (this machine, or agents through a queue). */
import { parseSize } from './size.js';

export interface ExecutorConfig {
  kind: 'local' | 'distributed';
  /** The queue's Redis/Valkey URL (distributed only; loading checks it is there). */
  redis?: string;
  queue: string;
  /** Builds the coordinator runs itself beside the agents. */
  localWorkers: number;
  maxInFlight: number;
  /** host:port the coordinator's package exchange listens on during a pass. */
  listen: string;
  /** How agents reach it, when not http://<listen>. */
  url?: string;
  tokenEnv: string;
  maxPackageBytes: number;
  /** Read every uploaded package on the coordinator and check it is what its agent reported (else the agent's identity is taken). */
  verifyPackages: boolean;
}

/** `executor:` as written, the schema's defaults filled in. */
export type RawExecutor = Omit<ExecutorConfig, 'maxPackageBytes'> & { maxPackageSize: string };

export function executorOf(raw: RawExecutor): ExecutorConfig {
  return {
    kind: raw.kind,
    ...(raw.redis !== undefined ? { redis: raw.redis } : {}),
    queue: raw.queue,
    localWorkers: raw.localWorkers,
    maxInFlight: raw.maxInFlight,
    listen: raw.listen,
    ...(raw.url !== undefined ? { url: raw.url } : {}),
    tokenEnv: raw.tokenEnv,
    maxPackageBytes: parseSize(raw.maxPackageSize),
    verifyPackages: raw.verifyPackages,
  };
}

/** What the schema cannot say about `executor:` (tolerates what it already rejected): each problem with the key at fault. */
export function executorProblems(raw: unknown, listenProblem: (listen: string) => string | undefined): { key: string; message: string }[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const e = raw as Partial<Record<keyof RawExecutor, unknown>>;
  const out: { key: string; message: string }[] = [];
  if (e.kind === 'distributed' && e.redis === undefined) {
    out.push({
      key: 'kind',
      message: 'executor.kind is distributed but executor.redis is not set; give the queue\'s server, e.g. redis: "redis://127.0.0.1:6379"',
    });
  }
  if (typeof e.listen === 'string') {
    // Port 0 is welcome here: the system picks a free port for each pass (agents on this machine).
    const problem = listenProblem(e.listen.replace(/:0$/, ':1'));
    if (problem) out.push({ key: 'listen', message: `executor.listen: ${problem}` });
    else if (e.kind === 'distributed' && e.url === undefined && !/^(127\.|\[::1\]|localhost:)/.test(e.listen)) {
      out.push({
        key: 'listen',
        message: `executor.listen is ${e.listen}, not a loopback address, and executor.url is not set; say how agents reach it, e.g. url: "http://buildmaster.example.org:8788"`,
      });
    }
  }
  if (typeof e.maxPackageSize === 'string' && /^[0-9]+[kmgtKMGT]$/.test(e.maxPackageSize) && parseSize(e.maxPackageSize) === 0) {
    out.push({ key: 'maxPackageSize', message: `executor.maxPackageSize "${e.maxPackageSize}" is zero; give a size above zero, e.g. 8g` });
  }
  return out;
}
