/**
 * Make profiles: reading a FreeBSD-family ports tree (MidnightBSD mports, FreeBSD ports,
 * DragonFly DPorts) with bmake on another system.
 *
 * A profile is a directory `profiles/<name>/` (shipped with portsync) or any directory given by
 * path, holding:
 *  - `profile.json`: the target system's identity (OPSYS, OSVERSION, ARCH, ...: `vars`), how the
 *    framework lists the parse-time probes it can take pre-set (`export`, as poudriere's
 *    export_ports_env does), and the target's answers to those probes (`answers`: compiler
 *    version, `id -u`, sysctls ...);
 *  - `mk/`: used as MAKESYSPATH; stands in for the BSD system makefiles (sys.mk, bsd.port.mk ...).
 *
 * The probe cache (`<buildBase>/make-profile/<name>/probe-cache.mk`, included by the profile's
 * sys.mk through PORTSYNC_PROBE_CACHE) holds the identity and every probe result as plain
 * assignments, so that reading a port forks no shell for them. It is generated once, by running
 * the framework's own export with a shell that answers probes from the profile (a probe the
 * profile does not answer runs for real, on this host, and is reported), and regenerated when
 * its inputs change: the profile's files, the framework files the generation read, make.command,
 * make.env and make.vars — compared by content (`probe-cache.json` holds their digest).
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../atomicWrite.js';
import { PortsyncError } from '../errors.js';
import type { MakeSettings } from './make.js';
import { DEFAULT_READ_AS, chooseReader, envPaths, onPath, type Reader } from './make-user.js';

/** A profile cannot be found or read, or its probe cache cannot be generated. */
export class MakeProfileError extends PortsyncError {
  constructor(
    readonly profile: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`make profile ${profile}: ${detail}`, options);
  }
}

/** Bumped when the probe cache's format or the way it is generated changes: every cache is regenerated. */
const GENERATOR_VERSION = 1;

/** One answer of the target system to a parse-time probe: `command` is a shell glob over the command make runs. */
export interface ProbeAnswer {
  command: string;
  output: string;
  note?: string;
}

export interface MakeProfile {
  name: string;
  description: string;
  /** The profile directory (absolute). */
  dir: string;
  /** `<dir>/mk`: MAKESYSPATH. */
  mkDir: string;
  /** Variables pre-set for every make call: the target's identity and facts. */
  vars: Record<string, string>;
  /** How the framework lists the variables it can take pre-set (arguments after make; `${PORTSDIR}` is the tree). */
  export: { make: string[]; vars: Record<string, string> } | undefined;
  answers: ProbeAnswer[];
}

/** portsync's own directory (the one holding `profiles/` and package.json), from src/ports or dist/ports. */
function installRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(d, 'profiles')) && existsSync(join(d, 'package.json'))) return d;
    d = dirname(d);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '../..');
}

/** Where the shipped profiles live. */
export const PROFILES_DIR = join(installRoot(), 'profiles');

/** Names of the profiles shipped with portsync (directories of PROFILES_DIR with a profile.json). */
export function shippedProfiles(): string[] {
  try {
    return readdirSync(PROFILES_DIR, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(PROFILES_DIR, e.name, 'profile.json')))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/** A `make.profile` value names a directory (rather than a shipped profile) when it contains a slash. */
export function isProfilePath(spec: string): boolean {
  return spec.includes('/');
}

const isStringRecord = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');

/** Reads a profile: a shipped name, or a directory (absolute, or relative to `baseDir`). */
export function loadProfile(spec: string, baseDir = process.cwd()): MakeProfile {
  const dir = isProfilePath(spec) ? resolve(baseDir, spec) : join(PROFILES_DIR, spec);
  const file = join(dir, 'profile.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    const known = shippedProfiles();
    const hint = isProfilePath(spec)
      ? `no ${file}`
      : `no such profile; shipped profiles: ${known.join(', ') || '(none)'}, or give a directory path`;
    throw new MakeProfileError(spec, missing ? hint : `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  const r = raw as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof r.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(r.name))
    problems.push('"name" must be a name (letters, digits, . _ -)');
  if (r.vars !== undefined && !isStringRecord(r.vars)) problems.push('"vars" must map variable names to strings');
  const exp = r.export as Record<string, unknown> | undefined;
  if (
    exp !== undefined &&
    (!Array.isArray(exp.make) || !exp.make.every((a) => typeof a === 'string') || (exp.vars !== undefined && !isStringRecord(exp.vars)))
  ) {
    problems.push('"export" must be {"make": [arguments], "vars": {NAME: value}}');
  }
  const answers = r.answers ?? [];
  if (!Array.isArray(answers) || !answers.every((a) => typeof a?.command === 'string' && typeof a?.output === 'string')) {
    problems.push('"answers" must be a list of {"command": glob, "output": text}');
  }
  const mkDir = join(dir, 'mk');
  if (!existsSync(join(mkDir, 'sys.mk'))) problems.push(`no ${join(mkDir, 'sys.mk')}`);
  if (problems.length) throw new MakeProfileError(spec, `${file}: ${problems.join('; ')}`);
  return {
    name: r.name as string,
    description: typeof r.description === 'string' ? r.description : '',
    dir,
    mkDir,
    vars: { ...((r.vars as Record<string, string> | undefined) ?? {}) },
    export: exp ? { make: [...(exp.make as string[])], vars: { ...((exp.vars as Record<string, string> | undefined) ?? {}) } } : undefined,
    answers: answers as ProbeAnswer[],
  };
}

/** The profile directory a file belongs to (a directory holding profile.json and mk/), by the directory of the file. */
const profileDirMemo = new Map<string, { dir: string; name: string } | null>();

function owningProfile(fileDir: string): { dir: string; name: string } | null {
  const memo = profileDirMemo.get(fileDir);
  if (memo !== undefined) return memo;
  let found: { dir: string; name: string } | null = null;
  let d = fileDir;
  for (let i = 0; i < 3 && !found; i++) {
    const pj = join(d, 'profile.json');
    if (existsSync(pj) && existsSync(join(d, 'mk'))) {
      try {
        const name = (JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown }).name;
        if (typeof name === 'string') found = { dir: d, name };
      } catch {
        /* not a profile */
      }
    }
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  profileDirMemo.set(fileDir, found);
  return found;
}

/** The probe cache of profile `name` under a build base. */
export function probeCacheDir(buildBase: string, name: string): string {
  return join(buildBase, 'make-profile', name);
}

/**
 * A stable, location-independent name for a file of a make profile, for build keys and
 * messages: `@profile/<name>/mk/sys.mk` for the profile's makefiles (wherever portsync or the
 * profile directory is installed) and `@profile/<name>/probe-cache.mk` for a generated probe
 * cache (identified by its content: its CRC goes with the name). Undefined for other files.
 */
export function profileRelative(path: string): string | undefined {
  if (!isAbsolute(path)) return undefined;
  const m = /[\\/]make-profile[\\/]([^\\/]+)[\\/]probe-cache\.mk$/.exec(path);
  if (m) return `@profile/${m[1]}/probe-cache.mk`;
  const owner = owningProfile(dirname(path));
  if (!owner) return undefined;
  return `@profile/${owner.name}/${relative(owner.dir, path).split(sep).join('/')}`;
}

/** What `ensureProbeCache` needs: the make settings without the profile, and where the cache lives. */
export interface ProbeCacheRequest extends Omit<MakeSettings, 'emptyLocalbase'> {
  buildBase: string;
}

export interface ProbeCache {
  /** The generated makefile (absolute). */
  file: string;
  /** True when this call generated it (missing or stale); false when it was reused. */
  generated: boolean;
  /** Digest of the inputs it was computed from. */
  inputsKey: string;
  /** Probes the profile did not answer: they ran on this host during generation. */
  probedOnHost: string[];
  /** Variables left out because their value named a path of this host (tree, build base, profile). */
  dropped: string[];
  /** Tree-relative framework files the generation read. */
  frameworkFiles: string[];
  durationMs: number;
}

interface Sidecar {
  version: number;
  inputsKey: string;
  frameworkFiles: string[];
  probedOnHost: string[];
  dropped: string[];
  generatedAt: string;
  durationMs: number;
}

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

function fileDigest(path: string): string {
  try {
    return sha(readFileSync(path));
  } catch {
    return 'missing';
  }
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

function inputsKeyOf(profile: MakeProfile, req: ProbeCacheRequest, frameworkFiles: readonly string[]): string {
  const h = createHash('sha256');
  const add = (label: string, value: string) => h.update(`${label}\0${value}\0`);
  add('generator', String(GENERATOR_VERSION));
  for (const f of listFiles(profile.dir)) add(`profile:${relative(profile.dir, f)}`, fileDigest(f));
  add('command', req.command);
  add('env', JSON.stringify(Object.entries(req.env).sort()));
  add('vars', JSON.stringify(Object.entries(req.vars).sort()));
  for (const f of frameworkFiles) add(`framework:${f}`, fileDigest(resolve(req.portsTree, f)));
  return h.digest('hex');
}

/** Quotes a value for a make assignment: `$` doubled, `#` escaped, newlines folded (as `!=` does). */
function makeValue(v: string): string {
  return v.replace(/\n+$/, '').replace(/\n/g, ' ').replace(/\$/g, '$$$$').replace(/#/g, '\\#').trim();
}

/** A shell `case` pattern for a glob: literal parts single-quoted, `*` and `?` left as globs. */
function casePattern(glob: string): string {
  return (
    glob
      .split(/([*?])/)
      .map((part) => (part === '*' || part === '?' ? part : part === '' ? '' : `'${part.replace(/'/g, `'\\''`)}'`))
      .join('') || "''"
  );
}

/** The shell make runs `!=` through during generation: answers from the profile, anything else runs for real (and is logged). */
function probeShell(profile: MakeProfile, log: string): string {
  const arms = profile.answers.map(
    (a) => `  ${casePattern(a.command)})\n    printf '%s\\n' '${a.output.replace(/'/g, `'\\''`)}'\n    exit 0 ;;`,
  );
  return [
    '#!/bin/sh',
    '# Generated by portsync (make profile probe cache): answers parse-time probes as the target system would.',
    'if [ "$1" = "-c" ]; then',
    '  case "$2" in',
    ...arms,
    '  esac',
    `  printf '%s\\n' "$2" >> '${log.replace(/'/g, `'\\''`)}'`,
    'fi',
    'exec /bin/sh "$@"',
    '',
  ].join('\n');
}

/** Time limit of the generation (one make call, running the probes the profile does not answer). */
const GENERATION_TIMEOUT_S = 300;

/**
 * Runs the generation's make call as `reader` (the unprivileged reader when portsync is root),
 * under timeout(1): past the limit, make and everything in its process group are killed (in
 * the reader's PID namespace, everything it started).
 */
function runMakeSync(command: string, args: string[], env: Record<string, string>, cwd: string, profile: string, reader: Reader): string {
  if (!onPath(command))
    throw new MakeProfileError(
      profile,
      `cannot run ${command}: not found on PATH (install it — Debian: apt-get install bmake — or set make.command in builds.yaml)`,
    );
  const limit = onPath('timeout');
  const argv = [...reader.wrapper, ...(limit ? [limit, '--kill-after=5', String(GENERATION_TIMEOUT_S)] : []), command, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { env: { HOME: reader.home, ...env }, cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new MakeProfileError(profile, `cannot run ${command}: ${r.error.message}`, { cause: r.error });
  if (limit && (r.status === 124 || r.status === 137)) {
    throw new MakeProfileError(
      profile,
      `generating the probe cache: ${command} did not finish within ${GENERATION_TIMEOUT_S} s and was killed (a probe that hangs? the profile can answer it: "answers" in profile.json):\n${r.stderr.trim()}`,
    );
  }
  if (r.status !== 0) {
    throw new MakeProfileError(
      profile,
      `generating the probe cache: ${command} ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${r.stderr.trim()}`,
    );
  }
  return r.stdout;
}

/**
 * Returns the profile's probe cache for these settings, generating it when it is missing or
 * its inputs changed. Synchronous (it runs make once when it generates): called when the make
 * settings are built.
 */
export function ensureProbeCache(profile: MakeProfile, req: ProbeCacheRequest): ProbeCache {
  const dir = probeCacheDir(req.buildBase, profile.name);
  const file = join(dir, 'probe-cache.mk');
  const sidecarFile = join(dir, 'probe-cache.json');
  let sidecar: Sidecar | undefined;
  try {
    sidecar = JSON.parse(readFileSync(sidecarFile, 'utf8')) as Sidecar;
  } catch {
    sidecar = undefined;
  }
  if (sidecar && sidecar.version === GENERATOR_VERSION && existsSync(file)) {
    const key = inputsKeyOf(profile, req, sidecar.frameworkFiles);
    if (key === sidecar.inputsKey) {
      return {
        file,
        generated: false,
        inputsKey: key,
        probedOnHost: sidecar.probedOnHost,
        dropped: sidecar.dropped,
        frameworkFiles: sidecar.frameworkFiles,
        durationMs: 0,
      };
    }
  }
  return generateProbeCache(profile, req, dir, file, sidecarFile);
}

function generateProbeCache(profile: MakeProfile, req: ProbeCacheRequest, dir: string, file: string, sidecarFile: string): ProbeCache {
  const t0 = performance.now();
  mkdirSync(dir, { recursive: true });
  const work = join(dir, `gen.${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const log = join(work, 'probed.log');
    const shell = join(work, 'probe-shell.sh');
    writeFileSync(shell, probeShell(profile, log));
    chmodSync(shell, 0o755);
    const stage = join(work, 'stage.mk');
    const profileLines = Object.entries(profile.vars).map(([k, v]) => `${k}=\t${makeValue(v)}`);
    writeFileSync(stage, [...profileLines, `.SHELL: name=sh path=${shell}`, ''].join('\n'));
    chmodSync(stage, 0o644);
    chmodSync(work, 0o755);
    writeFileSync(log, '');

    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LANG: 'C',
      ...req.env,
      MAKESYSPATH: profile.mkDir,
      PORTSYNC_PROBE_CACHE: stage,
    };
    const expand = (a: string) => a.replaceAll('${PORTSDIR}', req.portsTree);
    const common = [
      `PORTSDIR=${req.portsTree}`,
      ...Object.entries({ ...req.vars, ...(profile.export?.vars ?? {}) }).map(([k, v]) => `${k}=${v}`),
    ];
    let names: string[] = [];
    let frameworkFiles: string[] = [];
    const values = new Map<string, string>();
    if (profile.export) {
      // One make call, so that each probe runs once: the list variable (`-V LIST` in the profile)
      // becomes NAME/value pairs through a :@ loop, then the makefiles that call read.
      // The probes run what the framework says: as root, as the unprivileged reader (make-user.ts),
      // which may write only the probe log.
      const reader = chooseReader(
        `generating the probe cache of make profile ${profile.name}`,
        [{ path: req.portsTree, need: 'rx' }, { path: shell, need: 'rx' }, ...envPaths(env)],
        req.readAs ?? DEFAULT_READ_AS,
      );
      if (reader.unprivileged) chownSync(log, reader.uid, reader.gid);
      const make = profile.export.make;
      const v = make.findIndex((a, i) => make[i - 1] === '-V');
      const listVar = v >= 0 ? make[v]!.replace(/^\$\{(.*)\}$/, '$1') : 'PORTS_ENV_VARS';
      const args = make.filter((_, i) => i !== v && i !== v - 1).map(expand);
      const SEP = '%%portsync=%%';
      const END = '%%portsync;%%';
      const out = runMakeSync(
        req.command,
        [...args, ...common, '-V', `\${${listVar}:O:u:@v@\${v}${SEP}\${\${v}}${END}@}`, '-V', '${.MAKE.MAKEFILES}'],
        env,
        req.portsTree,
        profile.name,
        reader,
      );
      const nl = out.lastIndexOf('\n', out.length - 2);
      for (const pair of out.slice(0, nl).split(END)) {
        const at = pair.indexOf(SEP);
        if (at < 0) continue;
        const name = pair.slice(0, at).trim();
        if (!/^[A-Za-z_.][A-Za-z0-9_.]*$/.test(name)) continue;
        names.push(name);
        values.set(name, pair.slice(at + SEP.length));
      }
      const read = out
        .slice(nl + 1)
        .split(/\s+/)
        .filter(Boolean)
        .map((f) => resolve(req.portsTree, f));
      frameworkFiles = [...new Set(read.filter((f) => f.startsWith(req.portsTree + sep)).map((f) => relative(req.portsTree, f)))].sort();
    }
    const hostPaths = [req.portsTree, req.buildBase, profile.dir, installRoot()].filter((p) => p.length > 1);
    const dropped: string[] = [];
    const lines = [
      `# portsync make profile "${profile.name}": probe cache, generated from the profile and the tree's framework.`,
      '# Do not edit: portsync regenerates it when its inputs change (see profiles/README.md).',
      ...profileLines,
    ];
    for (const n of names) {
      if (Object.hasOwn(profile.vars, n)) continue;
      const v = values.get(n) ?? '';
      if (hostPaths.some((p) => v.includes(p))) {
        dropped.push(n);
        continue;
      }
      if (v.trim() === '') continue; // as poudriere: empty values are not pre-set (the framework may test defined())
      lines.push(`${n}=\t${makeValue(v)}`);
    }
    lines.push('');
    let probedOnHost: string[] = [];
    try {
      probedOnHost = [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))];
    } catch {
      probedOnHost = [];
    }
    writeFileAtomic(file, lines.join('\n'));
    const durationMs = Math.round(performance.now() - t0);
    const inputsKey = inputsKeyOf(profile, req, frameworkFiles);
    const sidecar: Sidecar = {
      version: GENERATOR_VERSION,
      inputsKey,
      frameworkFiles,
      probedOnHost,
      dropped,
      generatedAt: new Date().toISOString(),
      durationMs,
    };
    writeFileAtomic(sidecarFile, JSON.stringify(sidecar, null, 2));
    return { file, generated: true, inputsKey, probedOnHost, dropped, frameworkFiles, durationMs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The make environment a profile adds: its makefiles as MAKESYSPATH, and its probe cache. */
export function profileEnv(profile: MakeProfile, cache: ProbeCache): Record<string, string> {
  return { MAKESYSPATH: profile.mkDir, PORTSYNC_PROBE_CACHE: cache.file };
}

/** Last probe cache prepared in this process, by profile directory (for status and benchmarks). */
export const lastProbeCache = new Map<string, ProbeCache>();

/**
 * Make settings with a profile applied (builds.yaml `make.profile`): the probe cache is made
 * ready, MAKESYSPATH and PORTSYNC_PROBE_CACHE are set (over make.env's own). `spec` is a shipped
 * profile name or an absolute directory.
 */
export function applyMakeProfile(settings: MakeSettings, spec: string, buildBase: string): MakeSettings {
  const profile = loadProfile(spec);
  const cache = ensureProbeCache(profile, {
    command: settings.command,
    env: settings.env,
    vars: settings.vars,
    portsTree: settings.portsTree,
    buildBase,
    ...(settings.readAs ? { readAs: settings.readAs } : {}),
  });
  lastProbeCache.set(profile.dir, cache);
  return { ...settings, env: { ...settings.env, ...profileEnv(profile, cache) } };
}
