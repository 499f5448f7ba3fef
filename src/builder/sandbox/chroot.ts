import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, copyFile, lstat, mkdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { EnvironmentGoneError, EnvironmentSetupError } from './errors.js';
import { processStartTime, writeOwner, type OwnerRecord } from './owner.js';
import { removeUnmountedTree } from './safe-remove.js';
import { killGroup, RunTracker } from './supervise.js';
import { checkEnv, mapInsidePath } from './paths.js';
import { cleanupStaleWorkers, createWorkerDir } from './workers.js';
import { BuildCgroup } from './cgroup.js';
import { BUILD_GID, BUILD_UID } from '../../config/buildUser.js';
import { DEFAULT_TMPFS } from '../../config/defaults.js';
import type { BuildEnvironment, EnvPaths, EnvResources, EnvUsage, EnvironmentBackend, InsidePaths, RunResult, RunSpec } from './types.js';

export const CHROOT_INSIDE: Readonly<InsidePaths> = Object.freeze({
  portsTree: '/xports',
  distfiles: '/distfiles',
  packages: '/packages',
  output: '/output',
  construction: '/construction',
  localbase: '/usr/local',
  tmp: '/tmp',
});

/** Host system directories offered read-only; where the host has a symlink (merged /usr) it is recreated. */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** The minimal /etc: these files are copied into each root (users, name resolution, the dynamic linker)… */
const ETC_FILES = [
  'passwd',
  'group',
  'hosts',
  'resolv.conf',
  'nsswitch.conf',
  'services',
  'protocols',
  'ld.so.cache',
  'ld.so.conf',
  'localtime',
  'shells',
];
/** …and these directories are bound read-only (alternatives holds the cc symlink; copying it is slow). */
const ETC_DIRS = ['ld.so.conf.d', 'alternatives'];
const DEV_NODES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
const DEV_LINKS = [
  ['fd', '/proc/self/fd'],
  ['stdin', '/proc/self/fd/0'],
  ['stdout', '/proc/self/fd/1'],
  ['stderr', '/proc/self/fd/2'],
];
const WRAPPER_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
export { BUILD_GID, BUILD_UID };

/**
 * Pid 1 of each run's PID namespace. Its child chroots, changes directory, takes the clean
 * environment and execs the command with stderr merged into stdout; pid 1 reaps orphans and
 * reports the command's real status on fd 3 (as pid 1 the command itself would be immune to
 * its own signals, and an exit status would not tell a signal from an exit code).
 * Arguments: ROOT CWD NET USER N NAME=value×N ARGV… (NET: `lo` in a private network namespace,
 * `host` otherwise; USER: `root` — without capabilities — or uid:gid of the build user)
 */
const INIT = `
my ($root, $cwd, $net, $user, $n) = splice(@ARGV, 0, 5);
my @env = splice(@ARGV, 0, $n);
open(my $st, '>&=', 3) or die "portsync init: fd 3: $!\\n";
# A private network namespace has only a loopback, and it starts down.
if ($net eq 'lo') { system('ip', 'link', 'set', 'lo', 'up') == 0 or die "portsync init: cannot bring up the loopback\\n"; }
my $pid = fork() // die "portsync init: fork: $!\\n";
if ($pid == 0) {
  close($st); open(STDERR, '>&', \\*STDOUT);
  chroot($root) or die "portsync: chroot $root: $!\\n";
  chdir($cwd) or die "portsync: cannot change directory to $cwd: $!\\n";
  %ENV = map { split(/=/, $_, 2) } @env;
  # No capability survives into the build, and none can be regained (no_new_privs): no chroot
  # escape, no remount, no mknod, no raw network.
  my $cmd = $ARGV[0];
  my $found = ($cmd =~ m{/}) ? -x $cmd : grep { -x "$_/$cmd" } split(/:/, $ENV{PATH} // '');
  unless ($found) { print STDERR "portsync: cannot run $cmd: No such file or directory\\n"; exit 127; }
  my ($uid, $gid) = split(/:/, $user);
  my @user = $user eq 'root' ? () : ("--reuid=$uid", "--regid=$gid", '--clear-groups');
  exec { '/usr/bin/setpriv' } ('setpriv', @user, '--no-new-privs', '--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all', '--', @ARGV);
  print STDERR "portsync: cannot run setpriv for $ARGV[0]: $!\\n"; exit 127;
}
while ((my $w = waitpid(-1, 0)) > 0) {
  next unless $w == $pid;
  my $s = $?;
  syswrite($st, ($s & 127) ? "signal " . ($s & 127) . "\\n" : "exit " . ($s >> 8) . "\\n");
  exit(($s & 127) ? 128 + ($s & 127) : $s >> 8);
}
exit 127;
`;

export interface MountEntry {
  source: string;
  target: string;
  fstype: string;
  options: string;
}

/** fstab fields escape whitespace and backslashes as \ooo. */
function fstabField(s: string): string {
  return s.replace(/[\s\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

export function formatFstab(entries: MountEntry[]): string {
  return entries.map((e) => [e.source, e.target, e.fstype, e.options, '0', '0'].map(fstabField).join(' ')).join('\n') + '\n';
}

/**
 * The mounts made once per environment, in order, inside its private mount namespace (one
 * `mount -a` over this table). The root skeleton is bound read-only onto itself first, so a
 * build can write only to /construction, /usr/local, /tmp, and its private /distfiles and
 * /output; the repository (/packages) is read-only: only portsync moves a checked package into
 * it. The shared distfiles cache (`paths.distfiles`) is not mounted at all: `distfiles` is the
 * environment's private DISTDIR, which portsync fills from the cache and publishes back from
 * (src/builder/distfiles.ts).
 */
export function chrootMountTable(
  root: string,
  paths: EnvPaths,
  boundSystemDirs: string[],
  output: string,
  tmpfsSizes: EnvResources['tmpfs'] = DEFAULT_TMPFS,
  distfiles = paths.distfiles,
): MountEntry[] {
  const at = (p: string) => join(root, p);
  const bind = (source: string, target: string, ro: boolean): MountEntry => ({
    source,
    target,
    fstype: 'none',
    options: ro ? 'bind,ro' : 'bind',
  });
  const tmpfs = (target: string, mode: string, size: string, owner = ''): MountEntry => ({
    source: 'portsync',
    target,
    fstype: 'tmpfs',
    options: `mode=${mode},size=${size}${owner}`,
  });
  return [
    bind(root, root, true),
    ...boundSystemDirs.map((d) => bind(d, at(d), true)),
    tmpfs(at('/usr/local'), '755', tmpfsSizes.localbase),
    bind(paths.portsTree, at('/xports'), true),
    bind(distfiles, at('/distfiles'), false),
    bind(paths.packages, at('/packages'), true),
    bind(output, at('/output'), false),
    // The work area belongs to the build user: every make phase runs as that user.
    tmpfs(at('/construction'), '755', tmpfsSizes.construction, `,uid=${BUILD_UID},gid=${BUILD_GID}`),
    tmpfs(at('/tmp'), '1777', tmpfsSizes.tmp),
    tmpfs(at('/dev/shm'), '1777', tmpfsSizes.tmp),
    ...DEV_NODES.map((n) => bind(`/dev/${n}`, at(`/dev/${n}`), false)),
  ];
}

/** Lays out the root's mount points, system symlinks and the minimal /etc; returns the host dirs to bind. */
async function buildSkeleton(root: string): Promise<string[]> {
  const bound: string[] = [];
  for (const d of SYSTEM_DIRS) {
    const st = await lstat(d).catch(() => null);
    if (!st) continue;
    if (st.isSymbolicLink()) {
      await symlink(await readlink(d), join(root, d));
    } else if (st.isDirectory()) {
      await mkdir(join(root, d), { recursive: true });
      bound.push(d);
    }
  }
  for (const d of ['etc', 'dev/shm', 'proc', 'tmp', 'root', 'var', 'xports', 'distfiles', 'packages', 'output', 'construction']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await symlink('/tmp', join(root, 'var/tmp'));
  for (const n of DEV_NODES) await writeFile(join(root, 'dev', n), '');
  for (const [name, target] of DEV_LINKS) await symlink(target, join(root, 'dev', name));
  for (const name of ETC_FILES) {
    await copyFile(join('/etc', name), join(root, 'etc', name)).catch(() => undefined); // absent or dangling: skip
  }
  for (const name of ETC_DIRS) {
    const st = await lstat(join('/etc', name)).catch(() => null);
    if (!st?.isDirectory()) continue;
    await mkdir(join(root, 'etc', name));
    bound.push(join('/etc', name));
  }
  return bound;
}

/**
 * Starts the holder: `unshare` (in the new mount namespace itself) whose child, pid 1 of a new
 * PID namespace, mounts the table, says "ready" and sleeps. Every run enters both namespaces, so
 * when the holder dies (destroy, or portsync dying: --pdeathsig) the kernel kills every process
 * of every run, and the mounts vanish with the last of them.
 */
function startHolder(slot: number, fstab: string): Promise<{ holder: ChildProcess; exited: Promise<void> }> {
  // --pdeathsig: if portsync dies (even SIGKILL), the holder dies and the namespace's mounts with it.
  const holder = spawn(
    'setpriv',
    [
      '--pdeathsig',
      'KILL',
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--pid',
      '--fork',
      '--kill-child',
      '--',
      'sh',
      '-c',
      'mount -a -T "$1" && echo ready && exec sleep infinity',
      'portsync-holder',
      fstab,
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: WRAPPER_ENV },
  );
  const exited = new Promise<void>((res) => holder.once('close', () => res()));
  return new Promise((resolve, reject) => {
    let stderr = '';
    const fail = (detail: string, cause?: unknown) => {
      clearTimeout(timer);
      // mount names the target that failed: "mount: /path: reason".
      const target = /^mount: ([^:]+):/m.exec(stderr)?.[1];
      reject(new EnvironmentSetupError(slot, target ? `mount ${target}` : 'mount namespace', detail, { cause }));
    };
    const timer = setTimeout(() => {
      if (holder.pid) killGroup(holder.pid);
      fail('timed out after 30 s');
    }, 30_000);
    holder.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    holder.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready\n')) {
        clearTimeout(timer);
        resolve({ holder, exited });
      }
    });
    holder.once('error', (err) => fail(err.message, err));
    holder.once('exit', (code, signal) => fail(stderr.trim() || `exited with ${signal ?? `status ${code}`}`));
  });
}

class ChrootEnvironment implements BuildEnvironment {
  readonly inside = CHROOT_INSIDE;
  readonly privateDistfiles: string;
  private destroyed = false;
  private holderAlive = true;
  private readonly runs = new RunTracker();

  constructor(
    readonly id: string,
    readonly slot: number,
    readonly root: string,
    private readonly dir: string,
    private readonly paths: EnvPaths,
    private readonly holder: ChildProcess,
    private readonly holderExited: Promise<void>,
    private readonly cgroup: BuildCgroup | null,
  ) {
    this.privateDistfiles = join(dir, 'distfiles');
    holder.once('exit', () => (this.holderAlive = false));
  }

  async run(spec: RunSpec): Promise<RunResult> {
    if (this.destroyed) throw new EnvironmentGoneError(this.id, 'it was destroyed');
    if (!this.holderAlive) throw new EnvironmentGoneError(this.id, 'its namespace holder process died');
    const pairs = checkEnv(spec.env);
    const cwd = spec.cwd ?? this.inside.construction;
    const command = [
      // Entering the holder's PID namespace ties the run to the holder's life (and so to portsync's).
      'nsenter',
      `--mount=/proc/${this.holder.pid}/ns/mnt`,
      `--pid=/proc/${this.holder.pid}/ns/pid_for_children`,
      '--',
      'unshare',
      '--pid',
      '--fork',
      '--kill-child',
      `--mount-proc=${join(this.root, 'proc')}`,
      ...(spec.network === false ? ['--net'] : []),
      '--',
      'perl',
      '-e',
      INIT,
      this.root,
      cwd,
      spec.network === false ? 'lo' : 'host',
      spec.unprivileged ? `${BUILD_UID}:${BUILD_GID}` : 'root',
      String(pairs.length),
      ...pairs,
      ...spec.argv,
    ];
    // Each run joins the environment's cgroup before it enters the namespaces: its whole tree is bounded and measured.
    const joined = this.cgroup
      ? ['sh', '-c', 'for f in $PORTSYNC_CGROUPS; do echo $$ > "$f" || exit 125; done; exec "$@"', 'portsync-run', ...command]
      : command;
    return this.runs.run(joined, spec, {
      wrapperEnv: { ...WRAPPER_ENV, ...(this.cgroup ? { PORTSYNC_CGROUPS: this.cgroup.procsFiles.join(' ') } : {}) },
      statusFd: true,
    });
  }

  usage(): EnvUsage | undefined {
    return this.cgroup?.usage();
  }

  hostPath(insidePath: string): string {
    const mapped = mapInsidePath(insidePath, [
      [this.inside.portsTree, this.paths.portsTree],
      [this.inside.distfiles, this.privateDistfiles],
      [this.inside.packages, this.paths.packages],
      [this.inside.output, join(this.dir, 'output')],
    ]);
    // Everything else lives in the private namespace: reach it through the holder's view.
    return mapped ?? `/proc/${this.holder.pid}/root${this.root}${posix.normalize(insidePath)}`;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.runs.killAll();
    if (this.holder.pid) killGroup(this.holder.pid);
    await this.holderExited;
    this.cgroup?.remove();
    await removeUnmountedTree(this.dir);
  }
}

export const chrootBackend: EnvironmentBackend = {
  name: 'chroot',
  async create(slot: number, paths: EnvPaths, resources?: EnvResources): Promise<BuildEnvironment> {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      throw new EnvironmentSetupError(
        slot,
        'preflight',
        'the chroot backend needs root on Linux; set environment.backend: host in builds.yaml for development without isolation',
      );
    }
    await mkdir(paths.distfiles, { recursive: true });
    await mkdir(paths.packages, { recursive: true });
    const { id, dir, owner } = await createWorkerDir(paths.buildBase, slot, 'chroot');
    // Only root passes: the build user's private /output and /distfiles are below, and no one
    // else of its uid on the host (a `nobody` daemon) may reach them. The build itself reaches
    // them through its mounts, and the chroot needs no path through this directory.
    await chmod(dir, 0o700);
    const root = join(dir, 'root');
    let holder: ChildProcess | undefined;
    let cgroup: BuildCgroup | null = null;
    try {
      try {
        const { memoryBytes, pids, cpus } = resources ?? {};
        cgroup = BuildCgroup.create(id, {
          ...(memoryBytes ? { memoryBytes } : {}),
          ...(pids ? { pids } : {}),
          ...(cpus !== undefined ? { cpus } : {}),
        });
      } catch (err) {
        throw new EnvironmentSetupError(slot, 'cgroup', (err as Error).message, { cause: err });
      }
      await mkdir(root);
      const bound = await buildSkeleton(root).catch((err: Error) => {
        throw new EnvironmentSetupError(slot, 'root skeleton', err.message, { cause: err });
      });
      const fstab = join(dir, 'fstab');
      const output = join(dir, 'output');
      const distfiles = join(dir, 'distfiles');
      for (const d of [output, distfiles]) {
        await mkdir(d, { mode: 0o755 });
        await chown(d, BUILD_UID, BUILD_GID);
      }
      await writeFile(fstab, formatFstab(chrootMountTable(root, paths, bound, output, resources?.tmpfs, distfiles)));
      const started = await startHolder(slot, fstab);
      holder = started.holder;
      const record: OwnerRecord = { ...owner, holderPid: holder.pid, holderStartTime: await processStartTime(holder.pid!) };
      await writeOwner(dir, record);
      return new ChrootEnvironment(id, slot, root, dir, paths, holder, started.exited, cgroup);
    } catch (err) {
      if (holder?.pid) killGroup(holder.pid);
      cgroup?.remove();
      await removeUnmountedTree(dir).catch(() => undefined);
      throw err;
    }
  },
  cleanupStale: cleanupStaleWorkers,
};
