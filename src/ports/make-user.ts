/**
 * Who runs make when portsync reads a ports tree. Reading runs every `!=` shell command of every
 * Makefile, so when portsync runs as root it reads as the unprivileged reader instead: builds.yaml
 * `make.readAs` (default uid/gid 65533 — its own identity, not `nobody`: uid 65534 is the chroot
 * build user, and a Makefile read must not be able to write what a build owns), no supplementary
 * groups, no capability (the bounding set emptied), `no_new_privs` (no setuid program or file
 * capability raises it again), with a clean environment, and — where the kernel allows — in a PID
 * namespace with a /proc of its own: it sees no host process, and nothing a Makefile starts
 * outlives the make runner (make.ts, make-runner.mjs).
 *
 * Not root (or not Linux): make runs as portsync's own user, as before.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { DEFAULT_MAKE_READ_AS } from '../config/defaults.js';
import { parseReadAs, type ReaderIdentity } from '../config/readAs.js';

/** The reader when builds.yaml says nothing (`make.readAs`, default 65533:65533): owns nothing, shares nothing with the build user. */
export const DEFAULT_READ_AS: Readonly<ReaderIdentity> = Object.freeze(parseReadAs(DEFAULT_MAKE_READ_AS));
/** The default reader's uid (and gid). */
export const READER_UID = DEFAULT_READ_AS.uid;

/** setpriv's arguments that turn root into `id`, with nothing to regain. */
export function dropTo(id: ReaderIdentity): string[] {
  return [
    `--reuid=${id.uid}`,
    `--regid=${id.gid}`,
    '--clear-groups',
    '--no-new-privs',
    '--bounding-set=-all',
    '--inh-caps=-all',
    '--ambient-caps=-all',
  ];
}

/** setpriv's arguments that turn root into the default reader. */
export const DROP_TO_READER = dropTo(DEFAULT_READ_AS);

/** How processes that read the tree are started. */
export interface Reader {
  /** True: as `uid`/`gid`, the configured reader (portsync is root); false: as portsync's own user. */
  unprivileged: boolean;
  uid: number;
  gid: number;
  /** Command prefix that starts a process as the reader (empty: as this process). */
  wrapper: string[];
  /** The wrapper also gives it a PID namespace and a /proc of its own (`unshare --pid --mount-proc`). */
  pidNamespace: boolean;
  /** HOME for make: an empty directory the reader cannot write (unprivileged), else one that does not exist. */
  home: string;
}

/** A path the reader must be able to use: `r` read a file, `rx` list and enter a directory, `x` run or enter. */
export interface PathNeed {
  path: string;
  need: 'r' | 'rx' | 'x';
}

/**
 * A path the reader cannot use, and the path that stops it (the path itself or the first
 * ancestor it cannot enter); `checkFailed`: the check could not run as the reader at all (why).
 */
export interface Denied extends PathNeed {
  blocker: string;
  checkFailed?: string;
}

export const CURRENT_USER: Reader = Object.freeze({
  unprivileged: false,
  uid: process.getuid?.() ?? -1,
  gid: process.getgid?.() ?? -1,
  wrapper: [],
  pidNamespace: false,
  home: '/nonexistent',
});

/** Finds a command on PATH (absolute path) or undefined. */
export function onPath(command: string): string | undefined {
  if (command.includes('/')) return existsSync(command) ? command : undefined;
  for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const p = join(d, command);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * `drop`: setpriv to the reader; `wrapper`: that, inside `unshare --pid` where the kernel allows;
 * `noNamespace`: why not, when it does not.
 */
type Wrapper = { wrapper: string[]; drop: string[]; pidNamespace: boolean; noNamespace?: string } | { unavailable: string };
const wrapperMemo = new Map<string, Wrapper>();

/** A command to run through a wrapper (as the reader), and what came of it. */
interface RunRequest {
  wrapper: readonly string[];
  command: readonly string[];
}
interface RunResult {
  status: number | null;
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

/**
 * Finding who reads the tree runs a process or two as the reader: written once as steps that
 * ask for them (a generator yielding each RunRequest), run by chooseReader (spawnSync) or
 * chooseReaderAsync (this thread goes on while they run).
 */
type Steps<T> = Generator<RunRequest, T, RunResult>;

/** Runs a command through a wrapper, from `/` with a bare PATH; this thread waits. */
function runNow({ wrapper, command }: RunRequest): RunResult {
  return spawnSync(wrapper[0]!, [...wrapper.slice(1), ...command], {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    cwd: '/',
    env: { PATH: '/usr/bin:/bin' },
  });
}

/** runNow, while this thread goes on. */
function runLater({ wrapper, command }: RunRequest): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(wrapper[0]!, [...wrapper.slice(1), ...command], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: '/',
      env: { PATH: '/usr/bin:/bin' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (error) => resolve({ status: null, stdout, stderr, error }));
    child.once('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

function runStepsNow<T>(steps: Steps<T>): T {
  for (let next = steps.next(); ;) {
    if (next.done) return next.value;
    next = steps.next(runNow(next.value));
  }
}

async function runStepsLater<T>(steps: Steps<T>): Promise<T> {
  for (let next = steps.next(); ;) {
    if (next.done) return next.value;
    next = steps.next(await runLater(next.value));
  }
}

/** Why a run failed, in a line. */
const failure = (r: RunResult) => (r.stderr || r.error?.message || `exit ${r.status ?? r.signal}`).trim();

/**
 * The prefix that starts a process as the reader, found once per process: `unshare --pid
 * --fork --mount-proc -- setpriv …` where both work, `setpriv …` alone where namespaces are
 * refused (a container without CAP_SYS_ADMIN), or why neither works. The first time, the
 * wrapper is tried with `probe` (a command the caller would run as the reader next: one process
 * instead of two) and what it printed comes back with it.
 */
function* readerWrapper(id: ReaderIdentity, probe: readonly string[]): Steps<{ wrapper: Wrapper; probed?: string }> {
  const key = `${id.uid}:${id.gid}`;
  const known = wrapperMemo.get(key);
  if (known) return { wrapper: known };
  const found = yield* findWrapper(id, probe);
  wrapperMemo.set(key, found.wrapper);
  return found;
}

function* findWrapper(id: ReaderIdentity, probe: readonly string[]): Steps<{ wrapper: Wrapper; probed?: string }> {
  const setpriv = onPath('setpriv');
  if (!setpriv) return { wrapper: { unavailable: 'setpriv is not installed (util-linux; Debian: apt-get install util-linux)' } };
  const drop = [setpriv, ...dropTo(id), '--'];
  const unshare = onPath('unshare');
  // --mount-proc: a /proc of its own, so the reader sees none of the host's processes (their
  // command lines, other processes of its uid: their environment and memory).
  const tries = unshare ? [{ wrapper: [unshare, '--pid', '--fork', '--mount-proc', '--', ...drop], drop, pidNamespace: true }] : [];
  tries.push({ wrapper: drop, drop, pidNamespace: false });
  let why = unshare ? '' : 'unshare is not installed (util-linux)';
  for (const t of tries) {
    const r = yield { wrapper: t.wrapper, command: probe };
    if (r.status === 0) return { wrapper: t.pidNamespace ? t : { ...t, noNamespace: why }, probed: r.stdout };
    why = failure(r);
  }
  return { wrapper: { unavailable: `setpriv cannot switch to uid ${id.uid}: ${why}` } };
}

let homeMemo: string | undefined;
const HOME_PREFIX = 'portsync-make-home-';

/** Removes the (empty) HOMEs of processes that died without their exit handler (killed by a signal). */
function removeStaleHomes(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(new RegExp(`^${HOME_PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (!pid) continue;
    try {
      process.kill(pid, 0);
      continue; // alive
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    const p = join(tmpdir(), name);
    try {
      const st = lstatSync(p);
      if (st.isDirectory() && st.uid === process.getuid?.()) rmdirSync(p); // only ever empty ones
    } catch {
      /* someone else's, not empty, or gone */
    }
  }
}

/**
 * The reader's HOME: an empty directory owned by root, mode 0555, made once per process and
 * removed at exit. Tools that insist on an existing HOME work, and since the reader cannot
 * write it, nothing one port's Makefile leaves there (a ~/.gitconfig running a command) can
 * reach the next port's.
 */
function readerHome(): string {
  if (homeMemo) return homeMemo;
  removeStaleHomes();
  const dir = mkdtempSync(join(tmpdir(), `${HOME_PREFIX}${process.pid}-`));
  chmodSync(dir, 0o555);
  process.once('exit', () => {
    try {
      rmdirSync(dir);
    } catch {
      /* already gone */
    }
  });
  return (homeMemo = dir);
}

/** Every ancestor directory of an absolute path, outermost first ('/' excluded). */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let d = dirname(path); d !== dirname(d); d = dirname(d)) out.unshift(d);
  return out;
}

// Prints `need path` (NUL-terminated) for each pair the reader cannot use; test(1) asks the
// kernel (access(2) as the reader), so ACLs and read-only mounts count as they will for make.
const CHECK_SCRIPT = `
while [ $# -gt 1 ]; do
  case $1 in
    r) [ -r "$2" ] || printf '%s %s\\0' "$1" "$2" ;;
    x) [ -x "$2" ] || printf '%s %s\\0' "$1" "$2" ;;
    rx) { [ -r "$2" ] && [ -x "$2" ]; } || printf '%s %s\\0' "$1" "$2" ;;
  esac
  shift 2
done`;

/**
 * The check of which of these (existing) paths the reader cannot use: the command that checks
 * them (run as the reader; `paths`: how many it checks, ancestors included), and what its
 * output says, each path with what stops it.
 */
function accessCheck(needs: readonly PathNeed[]): {
  command: string[];
  paths: number;
  wanted: PathNeed[];
  denied(stdout: string): Denied[];
} {
  const wanted = needs.filter((n) => isAbsolute(n.path) && existsSync(n.path));
  const pairs = new Map<string, PathNeed>();
  for (const n of wanted) {
    for (const a of ancestors(n.path)) pairs.set(`x ${a}`, { path: a, need: 'x' });
    pairs.set(`${n.need} ${n.path}`, n);
  }
  const args = [...pairs.values()].flatMap((p) => [p.need, p.path]);
  return {
    command: ['/bin/sh', '-c', CHECK_SCRIPT, 'portsync-access-check', ...args],
    paths: pairs.size,
    wanted,
    denied: (stdout) => {
      const failed = new Set(stdout.split('\0').filter(Boolean));
      const out: Denied[] = [];
      for (const n of wanted) {
        if (!failed.has(`${n.need} ${n.path}`)) continue;
        const blocker = ancestors(n.path).find((a) => failed.has(`x ${a}`)) ?? n.path;
        out.push({ ...n, blocker });
      }
      return out;
    },
  };
}

/** Which of these (existing) paths the reader cannot use, each with what stops it. One process, as the reader. */
export function deniedToReader(setprivPrefix: string[], needs: readonly PathNeed[]): Denied[] {
  return runStepsNow(deniedSteps(setprivPrefix, accessCheck(needs)));
}

function* deniedSteps(setprivPrefix: readonly string[], check: ReturnType<typeof accessCheck>): Steps<Denied[]> {
  if (check.paths === 0) return [];
  const r = yield { wrapper: setprivPrefix, command: check.command };
  if (r.status === 0) return check.denied(r.stdout);
  // The check itself could not run as the reader: everything counts as denied.
  const why = failure(r);
  return check.wanted.map((n) => ({ ...n, blocker: n.path, checkFailed: why }));
}

/** What to run to let the reader in, for one blocking path. */
function remedy(d: Denied, uid: number): string {
  if (d.checkFailed) return `checking that as uid ${uid} failed: ${d.checkFailed}`;
  const mode = (() => {
    try {
      return ` (mode ${(statSync(d.blocker).mode & 0o7777).toString(8).padStart(4, '0')})`;
    } catch {
      return '';
    }
  })();
  if (d.blocker !== d.path) return `it cannot enter ${d.blocker}${mode}: chmod o+x ${d.blocker}`;
  if (d.need === 'r') return `it cannot read ${d.path}${mode}: chmod o+r ${d.path}`;
  if (d.need === 'x') return `it cannot run ${d.path}${mode}: chmod o+x ${d.path}`;
  return `it cannot list ${d.path}${mode}: chmod o+rx ${d.path}`;
}

const warned = new Set<string>();

/** One line on stderr, once per process per distinct message. */
function warnOnce(line: string): void {
  if (warned.has(line)) return;
  warned.add(line);
  process.stderr.write(`portsync: warning: ${line}\n`);
}

/**
 * The reader for a job (`what`: "reading the ports tree /x", for the warning) that needs these
 * paths. As root: the unprivileged reader when it can use them all, else portsync's own user
 * with a one-line warning naming the first path in the way and the chmod that clears it.
 *
 * Why fall back rather than fail: until now the tree was always read as root, and a project
 * under /root, a 0700 home or a mkdtemp directory (the test suite's) would stop working after an
 * upgrade, for a protection it never had. Falling back is never less protected than before, and
 * the warning says exactly how to get the protection.
 */
export function chooseReader(what: string, needs: readonly PathNeed[], id: ReaderIdentity = DEFAULT_READ_AS): Reader {
  return runStepsNow(readerSteps(what, needs, id));
}

/** chooseReader, with this thread going on while the processes it runs as the reader run. */
export function chooseReaderAsync(what: string, needs: readonly PathNeed[], id: ReaderIdentity = DEFAULT_READ_AS): Promise<Reader> {
  return runStepsLater(readerSteps(what, needs, id));
}

function* readerSteps(what: string, needs: readonly PathNeed[], id: ReaderIdentity): Steps<Reader> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return CURRENT_USER;
  const home = readerHome();
  const all = [...needs, { path: home, need: 'rx' as const }];
  // (Where the wrapper is still to be found, it is tried with this check: one process as the reader, not two.)
  const check = accessCheck(all);
  const { wrapper: w, probed } = yield* readerWrapper(id, check.command);
  if ('unavailable' in w) {
    warnOnce(`${what} runs as root, Makefile shell commands included: ${w.unavailable}; or run portsync as a non-root user`);
    return CURRENT_USER;
  }
  const denied = probed !== undefined ? check.denied(probed) : yield* deniedSteps(w.drop, check);
  if (denied.length) {
    warnOnce(
      `${what} runs as root, Makefile shell commands included, because uid ${id.uid} cannot use ${denied[0]!.path}: ${remedy(denied[0]!, id.uid)} — or run portsync as a non-root user`,
    );
    return CURRENT_USER;
  }
  if (w.noNamespace) {
    warnOnce(
      `${what} runs as uid ${id.uid} but in no PID namespace of its own (${w.noNamespace}): it sees the host's processes, and a process a Makefile leaves running is not killed`,
    );
  }
  return { unprivileged: true, uid: id.uid, gid: id.gid, wrapper: w.wrapper, pidNamespace: w.pidNamespace, home };
}

/**
 * The paths named by make environment values (MAKESYSPATH is a colon-separated list) that
 * exist. Not PATH: a directory of it the reader cannot enter is merely skipped by the lookup.
 */
export function envPaths(env: Record<string, string>): PathNeed[] {
  const out: PathNeed[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (k === 'PATH') continue;
    for (const p of v.split(':')) {
      if (!isAbsolute(p) || !existsSync(p)) continue;
      out.push({ path: p, need: statSync(p).isDirectory() ? 'rx' : 'r' });
    }
  }
  return out;
}
