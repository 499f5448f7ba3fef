/** The validated desired state read from builds.yaml (defaults applied, paths absolute). */
import type { Cascade } from '../fingerprint/types.js';
import type { ExecutorConfig } from './executor.js';

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
    /** Who reads the tree when portsync is root (`make.readAs`, resolved; loading always sets it, default uid/gid 65533): see src/ports/make-user.ts. */
    readAs?: { uid: number; gid: number };
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
    /** A pass removes the repository's packages that no port of the desired state makes (src/reconcile/prune.ts). */
    prune: boolean;
  };
  /** Things in the file that still work but should change (deprecated keys), as FILE:LINE:COL: message. */
  warnings: string[];
  watch: { resyncIntervalMs: number; debounceMs: number };
  server: { socket: string; listen?: string; webhookSecretEnv: string; allowInsecure: boolean };
  /** dsynth-style hooks: programs run at pass and port events (src/notify/hooks.ts). */
  hooks: HooksConfig;
  /** Where a pass's events are posted (src/notify/targets.ts), Flux notification-controller style. */
  notify: NotifyTarget[];
  /** Where builds run: this machine's workers, or agents through a queue (src/distributed). Loading always sets it; absent: local. */
  executor?: ExecutorConfig;
  /** How the repository is published: staging, catalog command, snapshots kept (src/repository). */
  repository: RepositoryConfig;
  /** Build logs kept per port. */
  logs: { keep: number };
}

export interface RepositoryConfig {
  /** A shell command run in the staging directory before it is published (`pkg repo .`); a leading ./ or ../ word resolved against builds.yaml's directory. */
  catalogCommand?: string;
  catalogTimeoutMs: number;
  /** Given to the catalog command as PORTSYNC_REPOSITORY_NAME. */
  name: string;
  /** Snapshots kept, the published one included. */
  keep: number;
}

/** The hooks dsynth and synth run, by their names. */
export const HOOK_NAMES = [
  'hook_run_start',
  'hook_run_end',
  'hook_pkg_success',
  'hook_pkg_failure',
  'hook_pkg_ignored',
  'hook_pkg_skipped',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export interface HooksConfig {
  /** Absolute path of the program run for each configured hook. */
  commands: Partial<Record<HookName, string>>;
  /** A hook running longer is killed (its whole process group). */
  timeoutMs: number;
}

export type NotifyEvent = 'run-start' | 'run-end' | 'port-failure';
export type NotifyType = 'generic' | 'slack' | 'commit-status';

/** One `notify:` entry. */
export interface NotifyTarget {
  name: string;
  type: NotifyType;
  /** The address, or (urlEnv) the environment variable holding it; commit-status URLs are templates. */
  url?: string;
  urlEnv?: string;
  /** Environment variable holding the HMAC-SHA256 key: the body is signed (X-Signature, X-Hub-Signature-256). */
  secretEnv?: string;
  events: NotifyEvent[];
  method: 'POST' | 'PUT' | 'PATCH';
  /** Extra request headers (templates: {{env.NAME}} reads an environment variable). */
  headers: Record<string, string>;
  /** commit-status: the request body (a template). */
  body?: string;
  /** commit-status: the state word sent for each outcome. */
  states: { pending: string; success: string; failed: string; interrupted: string };
  /** commit-status: the status's name (its `context`). */
  context: string;
  /** slack: channel and user name, when the webhook allows overriding them. */
  channel?: string;
  username?: string;
  timeoutMs: number;
  /** Deliveries retried after a failure (network, 5xx, 429), the delay doubling from retryDelayMs. */
  retries: number;
  retryDelayMs: number;
  /** Where the entry stands in builds.yaml, for messages. */
  line: number;
  col: number;
}
