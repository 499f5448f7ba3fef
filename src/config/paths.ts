/**
 * Where portsync writes must not hurt: no output directory may be `/` or a system directory,
 * lie inside a port or the framework of the tree (its CRC would change every pass, or the tree
 * would be written to), contain the tree, or overlap another output (cleanup of one would
 * delete the other).
 */
import { isAbsolute, relative, sep } from 'node:path';
import type { DesiredState } from './types.js';

type OutputName = 'buildBase' | 'packages' | 'distfiles' | 'logs' | 'database';
const OUTPUTS: readonly OutputName[] = ['buildBase', 'packages', 'distfiles', 'logs', 'database'];
/** Output directories (the database is a file: only what it may be inside matters). */
const DIRECTORIES: readonly OutputName[] = ['buildBase', 'packages', 'distfiles', 'logs'];

/** The system's own directories: never an output, nor inside one of the first group. */
const SYSTEM_DIRS = [
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/libexec',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/sys',
  '/usr',
  '/usr/bin',
  '/usr/include',
  '/usr/lib',
  '/usr/lib32',
  '/usr/lib64',
  '/usr/libexec',
  '/usr/sbin',
  '/usr/share',
  '/var',
  '/tmp',
  '/home',
];
const SYSTEM_TREES = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/proc',
  '/sbin',
  '/sys',
  '/usr/bin',
  '/usr/include',
  '/usr/lib',
  '/usr/lib32',
  '/usr/lib64',
  '/usr/libexec',
  '/usr/sbin',
  '/usr/share',
];

/** `path` relative to `root` when inside it (or equal: ''), else undefined. */
export function inside(path: string, root: string): string | undefined {
  const r = relative(root, path);
  if (r === '') return '';
  return r.startsWith('..') || isAbsolute(r) ? undefined : r;
}

export interface PathProblem {
  key: OutputName;
  message: string;
}

/** What is wrong with one output path on its own, or undefined. */
function placeProblem(key: OutputName, p: string, tree: string): string | undefined {
  const what = `paths.${key} (${p})`;
  if (SYSTEM_DIRS.includes(p)) return `${what} is a system directory; give portsync a directory of its own`;
  const sys = SYSTEM_TREES.find((s) => inside(p, s) !== undefined);
  if (sys) return `${what} is inside the system directory ${sys}; give portsync a directory of its own`;
  const inTree = inside(p, tree);
  // The tree's own top level may hold portsync's directories (.portsync/, FreeBSD's distfiles/ and packages/).
  const top = inTree?.split(sep)[0] ?? '';
  if (inTree === '' || (inTree !== undefined && !top.startsWith('.') && top !== 'distfiles' && top !== 'packages')) {
    return `${what} is inside the ports tree ${tree}: ports or the framework would change with every pass; put it outside the tree (or in a hidden directory at its top, like .portsync/)`;
  }
  if (key !== 'database' && inside(tree, p) !== undefined) return `${what} contains the ports tree ${tree}; give it a directory of its own`;
  return undefined;
}

export function pathProblems(state: Pick<DesiredState, 'paths' | 'portsTree'>): PathProblem[] {
  const out: PathProblem[] = [];
  const placed = new Set<OutputName>();
  for (const key of OUTPUTS) {
    const message = placeProblem(key, state.paths[key], state.portsTree.path);
    if (message) out.push({ key, message });
    else placed.add(key);
  }
  // Overlaps, among the paths that are fine on their own; each pair once, on the inner one (or the later of two equal ones).
  for (const key of OUTPUTS) {
    if (!placed.has(key)) continue;
    const p = state.paths[key];
    for (const other of DIRECTORIES) {
      if (other === key || !placed.has(other) || (key === 'database' && other === 'buildBase')) continue;
      const q = state.paths[other];
      if (inside(p, q) === undefined || (p === q && OUTPUTS.indexOf(other) > OUTPUTS.indexOf(key))) continue;
      const what = `paths.${key} (${p})`;
      out.push({
        key,
        message:
          p === q
            ? `${what} is the same directory as paths.${other}; give each its own`
            : `${what} is inside paths.${other} (${q}); give each its own directory`,
      });
      break;
    }
  }
  return out;
}
