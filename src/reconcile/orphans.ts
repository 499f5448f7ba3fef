/**
 * Packages of the repository that belong to no port of the desired state — what `adopt`
 * reports, what `status` lists as orphans and what a pass prunes under `policy.prune`.
 *
 * A package file (`<repository>/All/<pkgfile>`) is kept, never an orphan, when it is
 *  - the current package file of a port of the closure (a desired port or anything it needs);
 *  - the recorded package (port_state.pkgfile) of a port of the closure that is suspended, whose
 *    current package file is unknown (it cannot be read now) or not in the repository yet (the
 *    last good package stays until its replacement is in: clients are never left without one).
 * Every other file is an orphan: a port dropped from builds.yaml or from the tree, an older version
 * once the new one is in, a file no port makes. Names starting with "." are never packages
 * (files being written, the catalog step's own).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** A port of the closure as far as package ownership goes. */
export interface ClosurePort {
  origin: string;
  /** Its package file now; null or absent when the port cannot be read. */
  pkgfile?: string | null;
  suspended?: boolean;
}

/** What the build database recorded of a port's package (port_state). */
export interface RecordedPackage {
  origin: string;
  pkgfile: string | null;
  version: string | null;
}

export interface OrphanPackage {
  pkgfile: string;
  /** The file name without its extension (`greet-1.0.tgz` → `greet-1.0`). */
  pkgname: string;
  /** The port whose recorded package it is, when the database knows one. */
  origin: string | null;
  version: string | null;
  /** Why no desired port needs it, in words. */
  reason: string;
}

/** The package files in `<repositoryDir>/All`, sorted (none when it does not exist). */
export function repositoryPackages(repositoryDir: string): string[] {
  try {
    return readdirSync(join(repositoryDir, 'All'), { withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The orphans among `files`, sorted by file name. */
export function orphanPackages(
  files: Iterable<string>,
  closure: Iterable<ClosurePort>,
  recorded: Iterable<RecordedPackage>,
): OrphanPackage[] {
  const present = new Set([...files].filter((f) => !f.startsWith('.')));
  const recordedBy = new Map<string, RecordedPackage>();
  const byPkgfile = new Map<string, RecordedPackage>();
  for (const r of recorded) {
    recordedBy.set(r.origin, r);
    if (r.pkgfile) byPkgfile.set(r.pkgfile, r);
  }
  const kept = new Set<string>();
  const current = new Map<string, string>();
  for (const p of closure) {
    if (p.pkgfile) {
      kept.add(p.pkgfile);
      current.set(p.origin, p.pkgfile);
    }
    const old = recordedBy.get(p.origin)?.pkgfile;
    if (old && (p.suspended || !p.pkgfile || !present.has(p.pkgfile))) kept.add(old);
  }
  // An older version is no longer in port_state: it is known by its package base name.
  const byBase = new Map<string, string>();
  for (const [origin, f] of current) byBase.set(packageBase(f), origin);
  const orphans: OrphanPackage[] = [];
  for (const f of [...present].sort()) {
    if (kept.has(f)) continue;
    const owner = byPkgfile.get(f);
    const sameBase = byBase.get(packageBase(f));
    const now = owner ? current.get(owner.origin) : sameBase ? current.get(sameBase) : undefined;
    const origin = owner?.origin ?? sameBase ?? null;
    const reason = now
      ? `an older package of ${origin} (its package is now ${now})`
      : owner
        ? `${owner.origin} is no longer in the desired state`
        : 'no port of the desired state makes it';
    orphans.push({ pkgfile: f, pkgname: f.replace(/\.[^.-]+$/, ''), origin, version: owner?.version ?? null, reason });
  }
  return orphans;
}

/** `greet-fr-1.0.tgz` → `greet-fr`: the package name without its version and extension (PKGNAME is PKGBASE-PKGVERSION). */
function packageBase(pkgfile: string): string {
  const i = pkgfile.lastIndexOf('-');
  return i > 0 ? pkgfile.slice(0, i) : pkgfile;
}
