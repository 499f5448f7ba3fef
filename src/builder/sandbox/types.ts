/** Host directories a build environment is made of. */
export interface EnvPaths {
  /** The ports tree; read-only inside, at /xports. */
  portsTree: string;
  /**
   * The shared distfiles cache. `host`: DISTDIR itself. `chroot`: never mounted; each build
   * fetches into a private DISTDIR that portsync fills from the cache and publishes back from,
   * checking every file against the port's distinfo (src/builder/distfiles.ts).
   */
  distfiles: string;
  /** Package repository; read-only inside, at /packages (dependencies are installed from All/). */
  packages: string;
  /** Where worker directories are created (`<buildBase>/workers/<id>`). */
  buildBase: string;
}

/** Paths as a command inside the environment sees them. */
export interface InsidePaths {
  portsTree: string;
  distfiles: string;
  packages: string;
  /** Where the build writes its package (PACKAGES): private to the environment; portsync checks it and moves it into the repository. */
  output: string;
  /** The work area (WRKDIRPREFIX): fresh per environment, persists across its runs. */
  construction: string;
  /** LOCALBASE: empty at start, persists across the runs of one environment. */
  localbase: string;
  tmp: string;
}

export interface RunSpec {
  argv: string[];
  /** Working directory as seen inside; defaults to the construction dir. */
  cwd?: string;
  /** The complete environment of the command (nothing is inherited). */
  env: Record<string, string>;
  /** Merged stdout+stderr is appended here: an open fd or a writable stream. */
  log?: number | NodeJS.WritableStream;
  /** Phase time limit: the whole process tree is killed when it runs out. */
  timeoutMs?: number;
  /** Watchdog: kill the tree after this long without any output. */
  noOutputTimeoutMs?: number;
  signal?: AbortSignal;
  onOutput?: (chunk: Buffer) => void;
  /** Network access (default true). false: a network namespace with loopback only, where the backend can isolate. */
  network?: boolean;
  /** Run as the unprivileged build user (uid/gid 65534, as poudriere's BUILD_AS_NON_ROOT) where the backend can; default: root without capabilities (only the dependency install needs that). */
  unprivileged?: boolean;
}

export interface RunResult {
  /** The command's exit status, or null when it died of a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut?: 'phase' | 'no-output';
  /** The AbortSignal fired and the tree was killed. */
  aborted?: boolean;
  durationMs: number;
}

/** What one environment may take: tmpfs sizes (tmpfs syntax: 8g, 512m, 50%) and cgroup limits. */
export interface EnvResources {
  tmpfs: { construction: string; localbase: string; tmp: string };
  memoryBytes?: number;
  pids?: number;
  /** CPUs (fractions allowed: 1.5), as CPU bandwidth where the kernel has a cpu controller. */
  cpus?: number;
}

/** What a build took, measured by its cgroup (null where the kernel does not say). */
export interface EnvUsage {
  peakMemoryBytes: number | null;
  cpuMs: number | null;
  /** Processes killed for going over the memory limit (where measured). */
  oomKills?: number | null;
}

export interface BuildEnvironment {
  readonly id: string;
  readonly slot: number;
  /** The root directory commands are chrooted into (the env dir for `host`). */
  readonly root: string;
  readonly inside: Readonly<InsidePaths>;
  /**
   * Host directory behind `inside.distfiles` when it is private to this environment and owned
   * by the build user (chroot); undefined when DISTDIR is the shared cache itself (host).
   */
  readonly privateDistfiles?: string;
  run(spec: RunSpec): Promise<RunResult>;
  /** Host path of an inside path, readable by portsync while the environment exists. */
  hostPath(insidePath: string): string;
  /** What the environment's processes took so far; undefined where the backend cannot measure. */
  usage?(): EnvUsage | undefined;
  /** Kills whatever still runs, drops the mounts and removes the worker directory. Idempotent. */
  destroy(): Promise<void>;
}

export interface CleanupReport {
  /** Worker directories removed. */
  removed: string[];
  /** Worker directories left alone because their owner process is alive. */
  active: string[];
  /** Mount points unmounted on the way. */
  unmounted: string[];
  /** Worker directories not removed because a mount inside could not be unmounted. */
  refused: { path: string; mountpoint: string; reason: string }[];
}

export type BackendName = 'chroot' | 'host' | 'bsd';

export interface EnvironmentBackend {
  readonly name: BackendName;
  /** `resources` bound the environment where the backend can (chroot: tmpfs sizes and a cgroup). */
  create(slot: number, paths: EnvPaths, resources?: EnvResources): Promise<BuildEnvironment>;
  cleanupStale(buildBase: string): Promise<CleanupReport>;
}
