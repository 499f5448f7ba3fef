/** The validated desired state read from builds.yaml (defaults applied, paths absolute). */
import type { Cascade } from '../fingerprint/types.js';

export type TreeSource = 'worktree' | 'commit';
export type EnvironmentBackend = 'chroot' | 'host';
/** Which build phases may use the network: fetch only (default), every phase, or none. */
export type NetworkPolicy = 'fetch-only' | 'always' | 'never';

/** tmpfs sizes of a build (tmpfs syntax: 8g, 512m, or a share of RAM like 50%). */
export interface TmpfsSizes {
  construction: string;
  localbase: string;
  tmp: string;
}

/**
 * Build limits: a phase running longer than phaseTimeoutMs, or silent for noOutputTimeoutMs, is
 * killed; `network` says which phases see the network (the others get a loopback only); the
 * rest bound the build's environment (chroot backend: its cgroup and tmpfs mounts).
 */
export interface Limits {
  phaseTimeoutMs: number;
  noOutputTimeoutMs: number;
  network: NetworkPolicy;
  /** Memory one build may use (bytes), when limited. */
  memoryBytes?: number;
  /** Processes one build may have at once. */
  pids: number;
  /** CPUs one build may use (CPU bandwidth, fractions allowed: 1.5), when limited. */
  cpus?: number;
  tmpfs: TmpfsSizes;
}

/** A port's own `limits:` in builds.yaml: each key given replaces the global one (tmpfs sizes one by one). */
export type PortLimits = Partial<Omit<Limits, 'tmpfs'>> & { tmpfs?: Partial<TmpfsSizes> };

/** One entry of `ports:` after validation. */
export interface PortSelector {
  /** `cat/name`, `cat/name@flavor`, or a glob over origins such as `devel/*` or `*\/*`. */
  pattern: string;
  /** True when `pattern` contains glob characters (`*`, `?`, `[...]`). */
  isGlob: boolean;
  /** Per-port make variables (options); part of the build key. */
  vars: Record<string, string>;
  /** Keep as is: never built, never pruned. */
  suspend: boolean;
  /** Limits of its build that differ from the global ones (absent: none differ). */
  limits?: PortLimits;
  /** Where the entry stands in builds.yaml, for messages. */
  line: number;
  col: number;
}

export interface DesiredState {
  /** Absolute path of the builds.yaml file this came from. */
  file: string;
  /** Directory of that file; relative paths were resolved against it. */
  dir: string;
  portsTree: { path: string; source: TreeSource; branch: string };
  make: {
    command: string;
    /** Extra environment for every make call. Values starting with ./ or ../ are resolved against `dir`. */
    env: Record<string, string>;
    /** Extra make variables (NAME=value) for every make call. */
    vars: Record<string, string>;
    /** A make profile (src/ports/profile.ts): a shipped profile's name, or an absolute profile directory. */
    profile?: string;
  };
  paths: { buildBase: string; packages: string; distfiles: string; logs: string; database: string };
  workers: number;
  makeJobs: number;
  environment: { backend: EnvironmentBackend };
  limits: Limits;
  ports: PortSelector[];
  policy: {
    /** How a rebuilt dependency reaches its dependents (see Cascade). */
    cascade: Cascade;
  };
  /** Things in the file that still work but should change (deprecated keys), as FILE:LINE:COL: message. */
  warnings: string[];
  watch: { resyncIntervalMs: number; debounceMs: number };
  server: { socket: string; listen?: string; webhookSecretEnv: string; allowInsecure: boolean };
}
