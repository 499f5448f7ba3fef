/**
 * `cleanup --distfiles` (dsynth's purge-distfiles): the files of the distfiles cache that no port
 * of the desired state uses. A port uses what its DISTFILES name (under DIST_SUBDIR, `:group`
 * suffixes dropped) and everything its distinfo lists (PATCHFILES too): the closure of
 * builds.yaml's ports, dependencies and suspended ports included. A distfile can always be
 * fetched again; still, nothing outside the cache directory is touched and links are never
 * followed.
 */
import { lstatSync, readFileSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseDistinfo } from '../builder/distfiles.js';
import type { PortGraph } from '../graph/graph.js';

/** A download being published into the cache (distfiles.ts): left alone unless older than this. */
const TEMP_GRACE_MS = 24 * 3600 * 1000;
const TEMP_FILE = /^\..+\.portsync-[0-9a-f]+$/;

/** Distfile names (relative to the cache, DIST_SUBDIR included) used by the ports of `graph`. */
export function referencedDistfiles(graph: PortGraph, tree: string): { names: Set<string>; unread: string[] } {
  const names = new Set<string>();
  const unread: string[] = [];
  for (const node of graph.nodes.values()) {
    const meta = node.port?.meta;
    if (!meta) {
      unread.push(node.origin);
      continue;
    }
    for (const word of meta.distfiles) {
      const file = word.replace(/:[A-Za-z0-9_,]+$/, '');
      names.add(meta.distSubdir ? `${meta.distSubdir}/${file}` : file);
    }
    let text: string;
    try {
      text = readFileSync(join(tree, meta.dir, 'distinfo'), 'utf8');
    } catch {
      continue; // none (a slave port reads its master's, whose DISTFILES it shares)
    }
    for (const e of parseDistinfo(text).entries) names.add(e.name);
  }
  return { names, unread };
}

export interface DistfilesPurge {
  removed: { name: string; bytes: number }[];
  kept: number;
  /** Files that could not be removed, and why. */
  failed: { name: string; error: string }[];
}

/** Removes (or with dryRun, lists) the cache's files not in `used`, then the directories left empty. */
export function purgeDistfiles(cache: string, used: ReadonlySet<string>, opts: { dryRun?: boolean; now?: number } = {}): DistfilesPurge {
  const out: DistfilesPurge = { removed: [], kept: 0, failed: [] };
  const now = opts.now ?? Date.now();
  const walk = (rel: string): boolean => {
    const dir = rel ? join(cache, rel) : cache;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return false;
    }
    let left = 0;
    for (const e of entries) {
      const name = rel ? `${rel}/${e.name}` : e.name;
      const path = join(cache, name);
      if (e.isDirectory()) {
        if (walk(name) && !opts.dryRun) {
          try {
            rmdirSync(path);
            continue;
          } catch {
            // not empty after all (a download landed meanwhile)
          }
        }
        left++;
        continue;
      }
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (!st) continue;
      const young = TEMP_FILE.test(e.name) && now - st.mtimeMs < TEMP_GRACE_MS;
      if (used.has(name) || young) {
        out.kept++;
        left++;
        continue;
      }
      if (!opts.dryRun) {
        try {
          unlinkSync(path);
        } catch (err) {
          out.failed.push({ name, error: (err as Error).message });
          left++;
          continue;
        }
      }
      out.removed.push({ name, bytes: st.isFile() ? st.size : 0 });
      if (opts.dryRun) left++;
    }
    return left === 0;
  };
  walk('');
  return out;
}
