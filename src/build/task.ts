/** What the scheduler hands a build worker, and what it gets back. */
import type { MessagePort } from 'node:worker_threads';
import type { BackendName, EnvPaths, EnvResources, EnvUsage } from './env/types.js';
import type { PackageIdentity } from '../fingerprint/types.js';
import type { MakeCall } from './phases.js';
import type { NetworkPolicy } from '../config/types.js';

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
  limits: { phaseTimeoutMs: number; noOutputTimeoutMs: number; network: NetworkPolicy };
  /** tmpfs sizes and cgroup limits of the environment. */
  resources: EnvResources;
  logPath: string;
  /** Progress goes out on it (TaskEvent); a `{type:'cancel'}` coming in stops the build. */
  port: MessagePort;
}

export type TaskEvent =
  | { type: 'phase-start'; phase: string; at: string }
  | { type: 'phase-end'; phase: string; startedAt: string; durationMs: number; exitCode: number };

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
