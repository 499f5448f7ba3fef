/** Evaluating a port's metadata with one make process (`make -C <port> -V ...`). */
import { spawn } from 'node:child_process';
import { join, relative, resolve } from 'node:path';
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

function runMake(command: string, args: string[], env: Record<string, string>): Promise<MakeAnswer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new MakeNotFoundError(command, e)));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

const words = (s: string) => s.split(/\s+/).filter(Boolean);

/** make's raw answer for one port: what the metadata cache stores. */
export interface MakeAnswer { code: number | null; stdout: string; stderr: string }

/** Runs make for one port (one flavor). Throws only when make cannot be started. */
export function queryPort(settings: MakeSettings, dir: string, flavor: string, vars: Record<string, string>): Promise<MakeAnswer> {
  return runMake(settings.command, metadataArgs(settings, dir, flavor, vars), makeEnvironment(settings));
}

/**
 * Turns make's answer into PortMeta. Throws PortMetadataError when make failed or its output
 * does not have one line per variable, and MalformedDependencyError for a bad *_DEPENDS entry.
 */
export function parsePortAnswer(
  settings: MakeSettings, dir: string, flavor: string, vars: Record<string, string>, r: MakeAnswer,
): PortMeta {
  const label = flavor ? `${dir}@${flavor}` : dir;
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

/** A makefile's path for keys and messages: relative to the tree when inside it. */
export function treeRelative(tree: string, file: string): string {
  const rel = relative(tree, file);
  return rel.startsWith('..') ? file : rel;
}
