/**
 * Evaluating a port's metadata with one make process (`make -C <port> -V ...`), started by the
 * make runner (make-runner.mjs), with a time limit and a clean environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDepends } from './depends.js';
import { MakeNotFoundError, PortMetadataError } from './errors.js';
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
}

/** The variables read for every port, in output order. `${...}` forces expansion on every make. */
export const METADATA_VARS = [
  'PKGNAME', 'PKGVERSION', 'PKGFILE:T', 'DISTFILES', 'DIST_SUBDIR', 'IGNORE',
  ...DEP_KINDS.map((k) => `${k}_DEPENDS`),
  'FLAVORS', 'FLAVOR', 'SELECTED_OPTIONS', 'DESELECTED_OPTIONS', '.MAKE.MAKEFILES',
] as const;

/** Environment for metadata make calls: a small, fixed one (not the caller's), plus make.env. */
export function makeEnvironment(settings: MakeSettings): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', LANG: 'C', ...settings.env };
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

/** make's raw answer for one port. `timedOut`: killed at this limit (ms). */
export interface MakeAnswer { code: number | null; stdout: string; stderr: string; timedOut?: number }

/** One make call for the runner. */
export interface MakeJob { command: string; args: string[]; env: Record<string, string>; timeoutMs: number }

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

/**
 * The scanner's side of make-runner.mjs: a small process that forks make for us, so that this
 * (possibly large) process never forks per make call. Started on the first call; it keeps this
 * process alive only while calls are pending, and exits when this process ends (its stdin closes).
 */
export class MakeRunner {
  private child: ChildProcess | undefined;
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<number, { job: MakeJob; resolve: (a: MakeAnswer) => void; reject: (e: unknown) => void }>();

  private start(): ChildProcess {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'NODE_OPTIONS') env[k] = v;
    // A plain .mjs with no imports but node's: no loader, no TypeScript, a small heap.
    const child = spawn(process.execPath, ['--max-old-space-size=128', RUNNER_FILE], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.onData(chunk));
    child.stdin!.on('error', () => {}); // reported through 'exit'
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.buf = '';
      const e = new Error(`the make runner exited (${signal ?? `exit ${code}`}) with ${this.pending.size} make call(s) unanswered`);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
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
      if (this.pending.size === 0) this.setRef(false);
      if (r.spawnError !== undefined) p.reject(new MakeNotFoundError(p.job.command, new Error(r.spawnError)));
      else p.resolve({ code: r.code ?? null, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ...(r.timedOut ? { timedOut: p.job.timeoutMs } : {}) });
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

  run(job: MakeJob): Promise<MakeAnswer> {
    this.child ??= this.start();
    const id = this.nextId++;
    return new Promise<MakeAnswer>((resolve, reject) => {
      if (this.pending.size === 0) this.setRef(true);
      this.pending.set(id, { job, resolve, reject });
      this.child!.stdin!.write(`${JSON.stringify({ id, ...job })}\n`);
    });
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
    c.stdin?.end();
    c.unref();
    (c.stdout as unknown as { unref(): void } | null)?.unref();
  }
}

let shared: MakeRunner | undefined;
/** The process-wide make runner. */
export function makeRunner(): MakeRunner {
  return (shared ??= new MakeRunner());
}

const words = (s: string) => s.split(/\s+/).filter(Boolean);

/** Runs make for one port (one flavor), through the make runner. Throws only when make cannot be started. */
export function queryPort(
  settings: MakeSettings, dir: string, flavor: string, vars: Record<string, string>, timeoutMs = DEFAULT_MAKE_TIMEOUT_MS,
): Promise<MakeAnswer> {
  return makeRunner().run({ command: settings.command, args: metadataArgs(settings, dir, flavor, vars), env: makeEnvironment(settings), timeoutMs });
}

/**
 * Turns make's answer into PortMeta. Throws PortMetadataError when make failed or its output
 * does not have one line per variable, and MalformedDependencyError for a bad *_DEPENDS entry.
 */
export function parsePortAnswer(
  settings: MakeSettings, dir: string, flavor: string, vars: Record<string, string>, r: MakeAnswer,
): PortMeta {
  const label = flavor ? `${dir}@${flavor}` : dir;
  if (r.timedOut !== undefined) {
    throw new PortMetadataError(label, `make did not finish reading its metadata within ${r.timedOut / 1000} s and was killed (a hanging shell command in the Makefile?)`, r.stderr);
  }
  if (r.code !== 0) {
    throw new PortMetadataError(label, `make failed reading its metadata (exit ${r.code ?? 'signal'}); fix the port's Makefile`, r.stderr);
  }
  const lines = r.stdout.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length !== METADATA_VARS.length) {
    throw new PortMetadataError(label, `make printed ${lines.length} lines for ${METADATA_VARS.length} variables (a value with a newline?)`, r.stderr);
  }
  const v = Object.fromEntries(METADATA_VARS.map((name, i) => [name, lines[i]!.trim()])) as Record<(typeof METADATA_VARS)[number], string>;
  const flavors = words(v.FLAVORS);
  const evaluated = flavor || v.FLAVOR || flavors[0] || '';
  const depends: Dependency[] = DEP_KINDS.flatMap((k) => parseDepends(label, k, v[`${k}_DEPENDS`], settings.portsTree));
  const portPath = join(settings.portsTree, dir);
  return {
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
    makefiles: [...new Set(words(v['.MAKE.MAKEFILES']).map((f) => resolve(portPath, f)))],
    warnings: r.stderr.trim() ? r.stderr.trim().split('\n') : [],
    vars,
  };
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
