/**
 * `policy.prune`: what a pass removes from the repository, and removing it. The plan lists the
 * orphans (src/reconcile/orphans.ts) of the whole desired state; a pass removes them after its
 * builds, from the repository directory it is given (the published one, or a staging copy), and
 * records each in `pruned_packages`. Never anything a desired port or its dependencies need:
 * only files of no port of the closure, and nothing at all when the closure is empty (a desired
 * state that selects nothing is taken for a misread tree, not for "remove every package").
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FailSafeBuildDB } from '../builddb/failsafe.js';
import type { KnownPortState } from './decide.js';
import { orphanPackages, type ClosurePort, type OrphanPackage } from './orphans.js';

/** What a full pass would prune: the orphans among `files` (the names in `<packages>/All`). */
export function plannedPrune(
  files: Iterable<string>,
  closure: readonly ClosurePort[],
  known: ReadonlyMap<string, KnownPortState>,
): OrphanPackage[] {
  if (closure.length === 0) return [];
  const recorded = [...known].map(([origin, k]) => ({ origin, pkgfile: k.pkgfile ?? null, version: null }));
  return orphanPackages(files, closure, recorded);
}

export interface PruneResult {
  removed: OrphanPackage[];
  /** Files that could not be removed, and why (they stay; the next pass tries again). */
  failed: { pkgfile: string; error: string }[];
}

/** Removes `<repositoryDir>/All/<pkgfile>` of each orphan; a file already gone counts as removed. */
export function prunePackages(repositoryDir: string, orphans: readonly OrphanPackage[]): PruneResult {
  const result: PruneResult = { removed: [], failed: [] };
  for (const o of orphans) {
    // Only plain names: a file name with a slash would reach outside the repository.
    if (o.pkgfile.includes('/') || o.pkgfile.startsWith('.')) {
      result.failed.push({ pkgfile: o.pkgfile, error: 'not a package file name' });
      continue;
    }
    try {
      rmSync(join(repositoryDir, 'All', o.pkgfile), { force: true });
      result.removed.push(o);
    } catch (err) {
      result.failed.push({ pkgfile: o.pkgfile, error: (err as Error).message });
    }
  }
  return result;
}

/** A pass's pruning: removes the plan's orphans from `repositoryDir`, says so, records what was removed. */
export async function prunePass(
  repositoryDir: string,
  orphans: readonly OrphanPackage[],
  db: FailSafeBuildDB,
  runId: string,
  log: (line: string) => void,
): Promise<OrphanPackage[]> {
  if (orphans.length === 0) return [];
  const r = prunePackages(repositoryDir, orphans);
  for (const o of r.removed) log(`pruned ${o.pkgfile}: ${o.reason}`);
  for (const f of r.failed)
    log(`warning: could not prune ${join(repositoryDir, 'All', f.pkgfile)}: ${f.error} (it stays; the next pass tries again)`);
  await db.recordPrunes(runId, r.removed);
  return r.removed;
}
