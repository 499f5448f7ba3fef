/** Host directories a build environment is made of. */
export interface EnvPaths {
  /** The ports tree; read-only inside, at /xports. */
  portsTree: string;
  /** Distfiles cache; read-write inside, at /distfiles (fetch writes there). */
  distfiles: string;
  /** Package repository; read-write inside, at /packages (packages land in All/). */
  packages: string;
  /** Where worker directories are created (`<buildBase>/workers/<id>`). */
  buildBase: string;
}

/** Paths as a command inside the environment sees them. */
export interface InsidePaths {
  portsTree: string;
  distfiles: string;
  packages: string;
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

export interface BuildEnvironment {
  readonly id: string;
  readonly slot: number;
  /** The root directory commands are chrooted into (the env dir for `host`). */
  readonly root: string;
  readonly inside: Readonly<InsidePaths>;
  run(spec: RunSpec): Promise<RunResult>;
  /** Host path of an inside path, readable by portsync while the environment exists. */
  hostPath(insidePath: string): string;
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
  create(slot: number, paths: EnvPaths): Promise<BuildEnvironment>;
  cleanupStale(buildBase: string): Promise<CleanupReport>;
}
