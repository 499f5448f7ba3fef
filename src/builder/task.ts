/** What the scheduler hands a build worker, and what it gets back. */
import type { MessagePort } from 'node:worker_threads';
import type { BackendName, EnvPaths, EnvResources, EnvUsage } from './sandbox/types.js';
import type { PackageIdentity } from '../fingerprint/types.js';
import type { MakeCall } from './phases.js';
import type { DesiredState, Limits } from '../config/types.js';
import { cgroupSupport, unenforcedLimits } from './sandbox/cgroup.js';

export interface BuildTask {
  origin: string;
  /** `cat/name`. */
  dir: string;
  flavor: string;
  pkgname: string;
  version: string;
  pkgfile: string;
  buildId: string;
  buildKey: string;
  backend: BackendName;
  /** Unique among the builds running at the same time. */
  slot: number;
  paths: EnvPaths;
  make: MakeCall;
  /** The make targets to run, in order. */
  phases: string[];
  /** Packages to install into LOCALBASE first, dependencies first; each checked against its recorded checksum when there is one. */
  installs: { pkgname: string; pkgfile: string; checksum?: string }[];
  /** This port's limits: builds.yaml's, with its own overrides (config/selectors.ts limitsFor). */
  limits: Limits;
  logPath: string;
  /** Progress goes out on it (TaskEvent); a `{type:'cancel'}` coming in stops the build. */
  port: MessagePort;
}

export type TaskEvent =
  | { type: 'phase-start'; phase: string; at: string }
  | { type: 'phase-end'; phase: string; startedAt: string; durationMs: number; exitCode: number }
  /** A remote build: the agent that took it (src/distributed). */
  | { type: 'host'; host: string }
  /** A remote build's attempt was lost (its agent died or stopped answering): it is retried as a new build. */
  | { type: 'retry'; reason: string; lastPhase?: string };

export interface BuildTaskResult {
  status: 'success' | 'failed' | 'interrupted';
  lastPhase: string;
  error?: string;
  /** The failure came from the environment (mounts, disk), not the port: worth retrying. */
  transient?: boolean;
  durationMs: number;
  /** On success with a package phase: what the package is (read in the worker, off the main thread). */
  package?: PackageIdentity;
  /** What the build took (peak memory, CPU time), where the backend measures it. */
  usage?: EnvUsage;
}

/** What a build's environment may take, from its limits. */
export function envResources(limits: Limits): EnvResources {
  const { tmpfs, pids, memoryBytes, cpus } = limits;
  return { tmpfs, pids, ...(memoryBytes ? { memoryBytes } : {}), ...(cpus !== undefined ? { cpus } : {}) };
}

/** Bytes as builds.yaml writes them: 8g, 512m. */
export const formatSize = (b: number): string => (b % 2 ** 30 === 0 ? `${b / 2 ** 30}g` : `${Math.round(b / 2 ** 20)}m`);

/** One line for the build log: the limits its environment got (only the time limits on a backend without isolation). */
export function describeLimits(limits: Limits, backend: BackendName): string {
  const { tmpfs } = limits;
  const time = `phase timeout ${limits.phaseTimeoutMs} ms, no-output timeout ${limits.noOutputTimeoutMs} ms`;
  if (backend !== 'chroot') return `${time} (the ${backend} backend applies no other limit)`;
  return [
    `memory ${limits.memoryBytes ? formatSize(limits.memoryBytes) : 'unlimited'}`,
    `pids ${limits.pids}`,
    `cpus ${limits.cpus ?? 'unlimited'}`,
    `tmpfs /construction ${tmpfs.construction}, /usr/local ${tmpfs.localbase}, /tmp ${tmpfs.tmp}`,
    `network ${limits.network}`,
    time,
  ].join('; ');
}

/**
 * What a pass says once, before its builds, about limits in builds.yaml (global or a port's)
 * that this machine cannot enforce; undefined when it can, and on backends without cgroups.
 */
export function limitsNotice(state: DesiredState): string | undefined {
  if (state.environment.backend !== 'chroot') return undefined;
  const all = [state.limits, ...state.ports.flatMap((s) => (s.limits ? [s.limits] : []))];
  const wanted = { memory: all.some((l) => l.memoryBytes !== undefined), pids: true, cpus: all.some((l) => l.cpus !== undefined) };
  return unenforcedLimits(cgroupSupport(), wanted);
}
