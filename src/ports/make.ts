/**
 * Evaluating a port's metadata with one make process (`make -C <port> -V ...`), started by the
 * make runner (make-runner.mjs), with a time limit and a clean environment; as the unprivileged
 * reader when portsync runs as root (make-user.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PortsyncError } from '../errors.js';
import { parseDepends } from './depends.js';
import { MakeNotFoundError, PortMetadataError } from './errors.js';
import type { ReaderIdentity } from '../config/readAs.js';
import { CURRENT_USER, DEFAULT_READ_AS, chooseReader, chooseReaderAsync, envPaths, type Reader } from './make-user.js';
import { canonicalOrigin } from './origin.js';
import { DEP_KINDS, type Dependency, type PortMeta } from './types.js';

/** How make is called: the `make:` section of builds.yaml plus the tree. */
export interface MakeSettings {
  command: string;
  env: Record<string, string>;
  vars: Record<string, string>;
  portsTree: string;
  /** An empty directory used as LOCALBASE so nothing installed on the host leaks into answers. */
  emptyLocalbase: string;
  /** Who reads the tree when portsync is root (builds.yaml `make.readAs`); DEFAULT_READ_AS when absent. */
  readAs?: ReaderIdentity;
}

/** The variables read for every port, in output order. `${...}` forces expansion on every make. */
export const METADATA_VARS = [
  'PKGNAME',
  'PKGVERSION',
  'PKGFILE:T',
  'DISTFILES',
  'DIST_SUBDIR',
  'IGNORE',
  ...DEP_KINDS.map((k) => `${k}_DEPENDS`),
  'FLAVORS',
  'FLAVOR',
  'SELECTED_OPTIONS',
  'DESELECTED_OPTIONS',
  '.MAKE.MAKEFILES',
] as const;

/**
 * Environment for metadata make calls: a small, fixed one (not the caller's: no secret of
 * portsync's environment reaches a Makefile), plus make.env. `home`: the reader's (Reader.home).
 */
export function makeEnvironment(settings: MakeSettings, home = CURRENT_USER.home): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C', ...settings.env };
}

export function metadataArgs(settings: MakeSettings, dir: string, flavor: string, vars: Record<string, string>): string[] {
  const args = ['-C', join(settings.portsTree, dir)];
  if (flavor) args.push(`FLAVOR=${flavor}`);
  args.push(`PORTSDIR=${settings.portsTree}`, 'BATCH=yes', 'PACKAGE_BUILDING=yes', `LOCALBASE=${settings.emptyLocalbase}`);
  for (const [k, v] of Object.entries({ ...settings.vars, ...vars })) args.push(`${k}=${v}`);
  for (const v of METADATA_VARS) args.push('-V', `\${${v}}`);
  return args;
}

/** Default time limit of one metadata make call. */
export const DEFAULT_MAKE_TIMEOUT_MS = 60_000;

/**
 * make's raw answer for one port. `timedOut`: make did not finish, so the answer says nothing
 * about the port (and is not cached): killed at this limit (ms), or — with `interrupted` — because
 * portsync itself was stopped by that signal.
 */
export interface MakeAnswer {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut?: number;
  interrupted?: NodeJS.Signals;
}

/** One make call for the runner. */
export interface MakeJob {
  command: string;
  args: string[];
  env: Record<string, string>;
  timeoutMs: number;
}

interface RunnerReply {
  id: number;
  code?: number | null;
  signal?: string | null;
  stdout?: string;
  stderr?: string;
  timedOut?: boolean;
  spawnError?: string;
  errno?: string | null;
}

const RUNNER_FILE = fileURLToPath(new URL('./make-runner.mjs', import.meta.url));

/** The make runner process ended while make calls were waiting for it. */
export class MakeRunnerError extends PortsyncError {
  constructor(
    readonly reader: Reader,
    readonly exit: string,
    readonly unanswered: number,
  ) {
    super(
      `the make runner (${reader.unprivileged ? `reading the tree as uid ${reader.uid}` : 'reading the tree'}) exited (${exit}) with ${unanswered} make call(s) unanswered; its own message, if any, is on stderr above. Run the command again; if it persists, report it with that message`,
    );
  }
}

// pid 1 of the runner's PID namespace: starts the runner with the original stdin (a background
// job's stdin would be /dev/null), reaps what make leaves orphaned, and exits with the runner —
// and when it exits, the kernel kills whatever is left in the namespace.
const NAMESPACE_INIT = 'exec 3<&0; "$@" <&3 3<&- & wait $!';

/**
 * SIGINT/SIGTERM: every portsync command stops on them. From the first make call on, they kill
 * the make calls in flight at once, answered `interrupted` (a pass stuck in a hanging `!=` stops
 * promptly, whoever handles the signal), and later calls are answered so without running make.
 * When nothing else listens to the signal, it is raised again for its default effect (the
 * process ends by it), as if this listener were not there.
 */
let stoppedBy: NodeJS.Signals | undefined;
/** Runners with calls pending. */
const busy = new Set<MakeRunner>();
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
let listening = false;

function onStopSignal(sig: NodeJS.Signals): void {
  stoppedBy ??= sig;
  for (const r of [...busy]) r.interrupt(sig);
  if (process.listenerCount(sig) === 1) {
    for (const s of STOP_SIGNALS) process.off(s, onStopSignal);
    process.kill(process.pid, sig);
  }
}

function setBusy(r: MakeRunner, on: boolean): void {
  if (on) busy.add(r);
  else busy.delete(r);
  if (on && !listening) {
    listening = true; // for the process's life (signal listeners do not keep it alive)
    for (const s of STOP_SIGNALS) process.on(s, onStopSignal);
  }
}

const interruptedAnswer = (job: MakeJob, sig: NodeJS.Signals): MakeAnswer => ({
  code: null,
  stdout: '',
  stderr: '',
  timedOut: job.timeoutMs,
  interrupted: sig,
});

/**
 * The scanner's side of make-runner.mjs: a small process that forks make for us, so that this
 * (possibly large) process never forks per make call. Started on the first call — as `reader`
 * says: the unprivileged reader is one setpriv per runner, not per make call — it keeps this
 * process alive only while calls are pending, and exits when this process ends (its stdin closes).
 */
export class MakeRunner {
  private child: ChildProcess | undefined;
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<number, { job: MakeJob; resolve: (a: MakeAnswer) => void; reject: (e: unknown) => void }>();

  constructor(readonly reader: Reader = CURRENT_USER) {}

  private start(): ChildProcess {
    // Not this process's environment: the runner (and, as the reader, anything of the same uid
    // reading /proc/<pid>/environ) gets no secret of it.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' };
    // A plain .mjs with no imports but node's: no loader, no TypeScript, a small heap.
    const node = [process.execPath, '--max-old-space-size=128', RUNNER_FILE];
    const { wrapper, pidNamespace } = this.reader;
    const argv = pidNamespace
      ? [...wrapper, '/bin/sh', '-c', NAMESPACE_INIT, 'portsync-make-init', ...node, '--sweep']
      : [...wrapper, ...node];
    const child = spawn(argv[0]!, argv.slice(1), { env, cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.onData(chunk));
    child.stdin!.on('error', () => {}); // reported through 'exit'
    const ended = (how: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.buf = '';
      const e = new MakeRunnerError(this.reader, how, this.pending.size);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      setBusy(this, false);
    };
    child.on('error', (err) => ended(`could not start ${argv[0]}: ${err.message}`));
    child.on('exit', (code, signal) => ended(signal ?? `exit ${code}`));
    return child;
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      const r = JSON.parse(line) as RunnerReply;
      const p = this.pending.get(r.id);
      if (!p) continue;
      this.pending.delete(r.id);
      if (this.pending.size === 0) {
        this.setRef(false);
        setBusy(this, false);
      }
      if (r.spawnError !== undefined) p.reject(new MakeNotFoundError(p.job.command, new Error(r.spawnError)));
      else
        p.resolve({
          code: r.code ?? null,
          stdout: r.stdout ?? '',
          stderr: r.stderr ?? '',
          ...(r.timedOut ? { timedOut: p.job.timeoutMs } : {}),
        });
    }
  }

  /** While nothing is pending, the runner must not keep this process alive. */
  private setRef(on: boolean): void {
    const c = this.child;
    if (!c) return;
    for (const h of [c, c.stdin, c.stdout] as unknown as ({ ref(): void; unref(): void } | null)[]) {
      if (h) on ? h.ref() : h.unref();
    }
  }

  /** Starts the runner now, for calls to come (starting one takes a few tenths of a second); it keeps nothing alive meanwhile. */
  warm(): void {
    if (stoppedBy || this.child) return;
    this.child = this.start();
    this.setRef(false);
  }

  run(job: MakeJob): Promise<MakeAnswer> {
    if (stoppedBy) return Promise.resolve(interruptedAnswer(job, stoppedBy));
    this.child ??= this.start();
    const id = this.nextId++;
    return new Promise<MakeAnswer>((resolve, reject) => {
      if (this.pending.size === 0) {
        this.setRef(true);
        setBusy(this, true);
      }
      this.pending.set(id, { job, resolve, reject });
      this.child!.stdin!.write(`${JSON.stringify({ id, ...job })}\n`);
    });
  }

  /** Stops the runner (which kills every make it started) and answers what was pending as interrupted by `sig`. */
  interrupt(sig: NodeJS.Signals): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.close();
    for (const p of pending) p.resolve(interruptedAnswer(p.job, sig));
  }

  /** Stops the runner (tests, benchmarks): what is still running is killed; a later call starts a new one. */
  close(): void {
    const c = this.child;
    if (!c) return;
    this.child = undefined;
    this.buf = '';
    const e = new Error('the make runner was closed');
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    setBusy(this, false);
    c.stdin?.end();
    c.unref();
    (c.stdout as unknown as { unref(): void } | null)?.unref();
  }
}

const shared = new Map<string, MakeRunner>();
/** The process-wide make runner for a reader (one per kind: the unprivileged reader, this process's user). */
export function makeRunner(reader: Reader = CURRENT_USER): MakeRunner {
  const key = reader.wrapper.join('\0');
  let r = shared.get(key);
  if (!r) shared.set(key, (r = new MakeRunner(reader)));
  return r;
}

const readers = new WeakMap<MakeSettings, Reader>();
const readerChecks = new WeakMap<MakeSettings, Promise<Reader>>();

/** What who reads the tree for these settings is chosen on (chooseReader). */
function readerJob(settings: MakeSettings): Parameters<typeof chooseReader> {
  return [
    `reading the ports tree ${settings.portsTree}`,
    [
      { path: settings.portsTree, need: 'rx' },
      ...envPaths(settings.env),
      ...(isAbsolute(settings.command) ? [{ path: settings.command, need: 'x' as const }] : []),
      { path: process.execPath, need: 'x' },
      { path: RUNNER_FILE, need: 'r' },
    ],
    settings.readAs ?? DEFAULT_READ_AS,
  ];
}

/**
 * Who reads the tree for these settings (checked once per settings object, i.e. once per
 * pass): as root, the unprivileged reader if it can use the tree, make.env's paths (MAKESYSPATH,
 * the profile and its probe cache), the make command, node and the runner; else this user, with
 * a warning saying what to chmod (make-user.ts says why it falls back rather than fails).
 */
export function readerFor(settings: MakeSettings): Reader {
  let r = readers.get(settings);
  if (!r) readers.set(settings, (r = chooseReader(...readerJob(settings))));
  return r;
}

/**
 * readerFor, checked while this thread goes on (the processes it runs as the reader take tens
 * of milliseconds): readerFor answers from it once it is done.
 */
export function checkReader(settings: MakeSettings): Promise<Reader> {
  const known = readers.get(settings);
  if (known) return Promise.resolve(known);
  let check = readerChecks.get(settings);
  if (!check) {
    check = chooseReaderAsync(...readerJob(settings)).then((r) => {
      if (!readers.has(settings)) readers.set(settings, r);
      return readers.get(settings)!;
    });
    readerChecks.set(settings, check);
  }
  return check;
}

/** Gets the runner for these settings going ahead of the make calls a plan is about to make (MakeRunner.warm), this thread going on meanwhile. */
export function warmMakeRunner(settings: MakeSettings): void {
  checkReader(settings).then(
    (reader) => makeRunner(reader).warm(),
    () => {}, // (the make calls check again, and say what is wrong)
  );
}

/**
 * Who actually reads the tree for these settings, as a string for the metadata cache's settings
 * identity: `uid:gid` of the unprivileged reader, or `self:uid:gid` when make runs as portsync's
 * own user (not root, or root falling back). Answers read as one identity are not answers for
 * another: a `!=` can ask who it runs as, and what it may read differs.
 */
export function readerIdentity(settings: MakeSettings): string {
  const r = readerFor(settings);
  return r.unprivileged ? `${r.uid}:${r.gid}` : `self:${r.uid}:${r.gid}`;
}

const words = (s: string) => s.split(/\s+/).filter(Boolean);

/** Runs make for one port (one flavor), through the make runner. Throws only when make cannot be started. */
export function queryPort(
  settings: MakeSettings,
  dir: string,
  flavor: string,
  vars: Record<string, string>,
  timeoutMs = DEFAULT_MAKE_TIMEOUT_MS,
): Promise<MakeAnswer> {
  const reader = readerFor(settings);
  return makeRunner(reader).run({
    command: settings.command,
    args: metadataArgs(settings, dir, flavor, vars),
    env: makeEnvironment(settings, reader.home),
    timeoutMs,
  });
}

/**
 * Turns make's answer into PortMeta, and every makefile make read for it (absolute paths). Throws PortMetadataError when make failed or its output
 * does not have one line per variable, and MalformedDependencyError for a bad *_DEPENDS entry.
 */
export function parsePortAnswer(
  settings: MakeSettings,
  dir: string,
  flavor: string,
  vars: Record<string, string>,
  r: MakeAnswer,
): { meta: PortMeta; makefiles: string[] } {
  const label = flavor ? `${dir}@${flavor}` : dir;
  if (r.interrupted) {
    throw new PortMetadataError(label, `not read: portsync received ${r.interrupted} and is stopping (make was killed)`, r.stderr);
  }
  if (r.timedOut !== undefined) {
    throw new PortMetadataError(
      label,
      `make did not finish reading its metadata within ${r.timedOut / 1000} s and was killed (a hanging shell command in the Makefile?)`,
      r.stderr,
    );
  }
  if (r.code !== 0) {
    throw new PortMetadataError(label, `make failed reading its metadata (exit ${r.code ?? 'signal'}); fix the port's Makefile`, r.stderr);
  }
  const lines = r.stdout.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length !== METADATA_VARS.length) {
    throw new PortMetadataError(
      label,
      `make printed ${lines.length} lines for ${METADATA_VARS.length} variables (a value with a newline?)`,
      r.stderr,
    );
  }
  const v = Object.fromEntries(METADATA_VARS.map((name, i) => [name, lines[i]!.trim()])) as Record<(typeof METADATA_VARS)[number], string>;
  const flavors = words(v.FLAVORS);
  const evaluated = flavor || v.FLAVOR || flavors[0] || '';
  const depends: Dependency[] = DEP_KINDS.flatMap((k) => parseDepends(label, k, v[`${k}_DEPENDS`], settings.portsTree));
  const portPath = join(settings.portsTree, dir);
  const meta: PortMeta = {
    origin: canonicalOrigin(dir, evaluated, flavors),
    dir,
    flavor: evaluated,
    flavors,
    pkgname: v.PKGNAME,
    version: v.PKGVERSION,
    pkgfile: v['PKGFILE:T'],
    distfiles: words(v.DISTFILES),
    distSubdir: v.DIST_SUBDIR,
    ignore: v.IGNORE,
    depends,
    selectedOptions: words(v.SELECTED_OPTIONS).sort(),
    deselectedOptions: words(v.DESELECTED_OPTIONS).sort(),
    warnings: r.stderr.trim() ? r.stderr.trim().split('\n') : [],
    vars,
  };
  return { meta, makefiles: [...new Set(words(v['.MAKE.MAKEFILES']).map((f) => resolve(portPath, f)))] };
}

/**
 * The makefiles a (failed) answer says make read, when its output has the expected shape
 * (e.g. a malformed *_DEPENDS entry); undefined when make did not get that far.
 */
export function makefilesOf(settings: MakeSettings, dir: string, r: MakeAnswer): string[] | undefined {
  if (r.code !== 0 || r.timedOut !== undefined) return undefined;
  const lines = r.stdout.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length !== METADATA_VARS.length) return undefined;
  const portPath = join(settings.portsTree, dir);
  return [...new Set(words(lines.at(-1)!).map((f) => resolve(portPath, f)))];
}

/** A makefile's path for keys and messages: relative to the tree when inside it. */
export function treeRelative(tree: string, file: string): string {
  const rel = relative(tree, file);
  return rel.startsWith('..') ? file : rel;
}
