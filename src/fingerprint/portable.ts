/**
 * Host paths never enter a build key: a value naming a path inside the ports tree or next to
 * builds.yaml enters as `@tree/...` or `@config/...`, so the same project gives the same keys
 * wherever it is checked out (and in commit mode, where the tree is portsync's own checkout).
 */
import { isAbsolute, relative, sep } from 'node:path';

export interface ProjectLocation {
  /** Directory of builds.yaml. */
  dir: string;
  portsTree: { path: string };
}

function under(path: string, root: string): string | undefined {
  const rel = relative(root, path);
  if (rel === '') return '';
  if (rel.startsWith('..') || isAbsolute(rel)) return undefined;
  return rel.split(sep).join('/');
}

/** One absolute path as a portable name; other paths are returned unchanged. */
export function portablePath(path: string, where: ProjectLocation, tree: string): string {
  if (!isAbsolute(path)) return path;
  for (const [name, root] of [
    ['@tree', tree],
    ['@tree', where.portsTree.path],
    ['@config', where.dir],
  ] as const) {
    const rel = under(path, root);
    if (rel !== undefined) return rel ? `${name}/${rel}` : name;
  }
  return path;
}

/** A variable's value: an absolute path, or a colon-separated list of them (MAKESYSPATH), made portable. */
export function portableValue(value: string, where: ProjectLocation, tree: string): string {
  if (!value.startsWith('/')) return value;
  return value
    .split(':')
    .map((p) => portablePath(p, where, tree))
    .join(':');
}
