/**
 * Readying `paths.packages` for a pass: a repository of snapshots with `latest` in place
 * (layout.ts). A repository portsync wrote in place before atomic publishing becomes its first
 * snapshot without a package being copied or lost.
 */
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RepositoryLayoutError } from './errors.js';
import { LATEST, PACKAGE_DIR, SNAPSHOTS, STAGING_PREFIX, latestLink, snapshotDir } from './layout.js';
import { isLinkIntoLatest, listSnapshots, nextSnapshotId, refreshTopLinks, switchPublished, writeInfo } from './snapshots.js';
import { removeLeftoverStaging } from './staging.js';

export interface RepositoryPrepared {
  /** A repository written in place (before atomic publishing) was turned into this first snapshot. */
  converted?: string;
  /** `latest` was missing though snapshots were there: it links to this one, the newest, again. */
  relinked?: string;
  /** Staging directories of passes that were killed, removed. */
  removedStaging: string[];
}

/**
 * Makes `packages` a repository of snapshots, ready for a pass (the caller holds the pass lock):
 * a repository written in place becomes the first snapshot — every entry moved into it, nothing
 * copied or lost — and `latest` is put in place; a new one stays empty (no `latest` until the
 * first pass that builds publishes). Staging
 * directories left by a killed pass are removed. Idempotent, and safe to run again after being
 * cut short at any point.
 */
export function prepareRepository(packages: string): RepositoryPrepared {
  mkdirSync(packages, { recursive: true });
  const out: RepositoryPrepared = { removedStaging: removeLeftoverStaging(packages) };
  const latest = lstatSync(latestLink(packages), { throwIfNoEntry: false });
  if (latest?.isSymbolicLink() && statSync(latestLink(packages), { throwIfNoEntry: false })?.isDirectory()) {
    adoptStrayPackageDir(packages);
    refreshTopLinks(packages);
    return out;
  }
  // No usable `latest` (none yet, or removed by hand): what lies at the top is a repository written in place.
  const entries = readdirSync(packages).filter(
    (n) => n !== SNAPSHOTS && !n.startsWith(STAGING_PREFIX) && !(n !== LATEST && isLinkIntoLatest(join(packages, n))),
  );
  if (latest?.isSymbolicLink()) entries.splice(entries.indexOf(LATEST), 1); // dangling: replaced below
  const snapshots = listSnapshots(packages);
  // A new repository: nothing to publish until a pass has built something.
  if (entries.length === 0 && snapshots.length === 0) {
    if (latest) rmSync(latestLink(packages), { force: true });
    return out;
  }
  if (entries.length === 0) {
    // Only the link is missing: the newest snapshot is published again.
    const newest = snapshots.at(-1)!.id;
    switchPublished(packages, newest);
    out.relinked = newest;
    return out;
  }
  // A conversion cut short left its snapshot (no note yet, or one saying so): it goes on into that one.
  const resumed = snapshots.at(-1);
  const id = resumed && (!resumed.info || resumed.info.converted) ? resumed.id : nextSnapshotId(packages);
  const dir = snapshotDir(packages, id);
  mkdirSync(dir, { recursive: true });
  for (const name of entries) {
    const dest = join(dir, name);
    if (lstatSync(dest, { throwIfNoEntry: false })) {
      throw new RepositoryLayoutError(
        join(packages, name),
        `cannot move it into the repository's first snapshot ${dir}: that already has ${name}; move one of the two away, then run the pass again`,
      );
    }
    renameSync(join(packages, name), dest);
  }
  mkdirSync(join(dir, PACKAGE_DIR), { recursive: true });
  const packageCount = readdirSync(join(dir, PACKAGE_DIR)).length;
  try {
    writeInfo(dir, { id, createdAt: new Date().toISOString(), packages: packageCount, converted: true });
  } catch {
    // only a note (a full disk here fails the pass's builds, said better there)
  }
  switchPublished(packages, id);
  out.converted = id;
  return out;
}

/**
 * `<packages>/All` found as a plain directory beside a published snapshot (made by hand or by an
 * older tool since): its files that the published snapshot lacks are moved into it, then the
 * directory gives way to the link. Nothing is lost; files the snapshot already has stay where
 * they were found and are reported.
 */
function adoptStrayPackageDir(packages: string): void {
  const stray = join(packages, PACKAGE_DIR);
  const st = lstatSync(stray, { throwIfNoEntry: false });
  if (!st || st.isSymbolicLink() || !st.isDirectory()) return;
  const into = join(packages, LATEST, PACKAGE_DIR);
  mkdirSync(into, { recursive: true });
  const left: string[] = [];
  for (const name of readdirSync(stray)) {
    if (lstatSync(join(into, name), { throwIfNoEntry: false })) left.push(name);
    else renameSync(join(stray, name), join(into, name));
  }
  if (left.length) {
    throw new RepositoryLayoutError(
      stray,
      `is a plain directory beside the published snapshot, and holds ${left.length} file(s) the snapshot has too (${left.slice(0, 3).join(', ')}); remove or move them, then run the pass again`,
    );
  }
  rmSync(stray, { recursive: true });
}
