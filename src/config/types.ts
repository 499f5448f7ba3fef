/** The validated desired state read from builds.yaml (defaults applied, paths absolute). */

export type TreeSource = 'worktree' | 'commit';
export type EnvironmentBackend = 'chroot' | 'host';

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
  };
  paths: { buildBase: string; packages: string; distfiles: string; logs: string; database: string };
  workers: number;
  makeJobs: number;
  environment: { backend: EnvironmentBackend };
  /** Build limits: a phase running longer than phaseTimeoutMs, or silent for noOutputTimeoutMs, is killed. */
  limits: { phaseTimeoutMs: number; noOutputTimeoutMs: number };
  ports: PortSelector[];
  policy: { rebuildDependents: boolean };
  watch: { resyncIntervalMs: number; debounceMs: number };
  server: { socket: string; listen?: string; webhookSecretEnv: string };
}
