/** Which packages must be present in LOCALBASE before a port builds. */
import type { PortGraph } from '../graph/graph.js';
import type { DepKind } from '../ports/types.js';

/** Dependency kinds needed while building (everything but RUN). */
const BUILD_TIME: ReadonlySet<DepKind> = new Set(['FETCH', 'EXTRACT', 'PATCH', 'BUILD', 'LIB']);
/** Kinds a package needs to work once installed. */
const RUN_TIME: ReadonlySet<DepKind> = new Set(['LIB', 'RUN']);

function hasAny(kinds: ReadonlySet<DepKind>, wanted: ReadonlySet<DepKind>): boolean {
  for (const k of kinds) if (wanted.has(k)) return true;
  return false;
}

/** A dependency needed while building (installed into the build's LOCALBASE), not only at run time. */
export const neededToBuild = (kinds: ReadonlySet<DepKind>): boolean => hasAny(kinds, BUILD_TIME);

/**
 * The port's build-time dependencies plus, transitively, what those need at run time:
 * exactly what must be installed, and nothing undeclared. Dependencies first.
 */
export function packagesToInstall(g: PortGraph, origin: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (o: string) => {
    if (seen.has(o)) return;
    seen.add(o);
    for (const [d, kinds] of [...g.node(o).deps].sort(([a], [b]) => (a < b ? -1 : 1))) if (hasAny(kinds, RUN_TIME)) visit(d);
    out.push(o);
  };
  for (const [d, kinds] of [...g.node(origin).deps].sort(([a], [b]) => (a < b ? -1 : 1))) if (hasAny(kinds, BUILD_TIME)) visit(d);
  return out;
}
