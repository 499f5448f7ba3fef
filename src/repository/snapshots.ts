/**
 * The repository's snapshots and the `latest` link that publishes one of them (layout.ts).
 * Switching is one rename(2) of a new symlink over `latest`: a reader resolves the old snapshot
 * or the new one, never a mix. Callers that change the repository (a pass, rollback) hold the
 * project's pass lock, so nothing here races another writer.
 */
import { closeSync, fsyncSync, lstatSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { replaceSymlink, writeFileAtomic } from '../atomicWrite.js';
import { compactUtc, namesIn } from '../fileNames.js';
import { NoSuchSnapshotError } from './errors.js';
import { LATEST, PACKAGE_DIR, SNAPSHOT_ID, SNAPSHOT_INFO, SNAPSHOTS, latestLink, snapshotDir, snapshotsDir } from './layout.js';

/** What portsync notes in a snapshot it published (SNAPSHOT_INFO). */
export interface SnapshotInfo {
  id: string;
  createdAt: string;
  runId?: string;
  gitCommit?: string | null;
  /** The snapshot the pass started from. */
  from?: string | null;
  /** Package files in All/. */
  packages: number;
  /** The catalog command that ran in it, if any. */
  catalogCommand?: string | null;
  /** Made from a repository written in place by portsync before atomic publishing. */
  converted?: boolean;
}

export interface Snapshot {
  id: string;
  seq: number;
  dir: string;
  published: boolean;
  info?: SnapshotInfo;
}

/** The snapshot `latest` points at, or undefined (no link yet: a repository not converted, or none). */
export function publishedSnapshotId(packages: string): string | undefined {
  let target: string;
  try {
    target = readlinkSync(latestLink(packages));
  } catch {
    return undefined;
  }
  const m = /^\.snapshots\/([^/]+)\/?$/.exec(target);
  return m ? m[1] : undefined;
}

/** Every snapshot kept, oldest first. */
export function listSnapshots(packages: string): Snapshot[] {
  const published = publishedSnapshotId(packages);
  const out: Snapshot[] = [];
  for (const id of namesIn(snapshotsDir(packages))) {
    const m = SNAPSHOT_ID.exec(id);
    if (!m) continue;
    const dir = snapshotDir(packages, id);
    let info: SnapshotInfo | undefined;
    try {
      info = JSON.parse(readFileSync(join(dir, SNAPSHOT_INFO), 'utf8')) as SnapshotInfo;
    } catch {
      // made by a conversion that was cut short, or written by hand: its id says enough
    }
    out.push({ id, seq: Number(m[1]), dir, published: id === published, ...(info ? { info } : {}) });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** The id the next snapshot gets: one more than the highest kept. */
export function nextSnapshotId(packages: string, at = new Date()): string {
  const last = listSnapshots(packages).at(-1)?.seq ?? 0;
  return `${String(last + 1).padStart(4, '0')}-${compactUtc(at)}`;
}

/** Makes the directory entries just changed in `dir` durable (a crash right after keeps them). */
export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // not every file system lets a directory be synced; the rename itself is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Publishes snapshot `id`: `latest` is switched in one rename, then the top-level links
 * (`All -> latest/All`, the catalog's files) are made for names the snapshot has and removed for
 * names it no longer has.
 */
export function switchPublished(packages: string, id: string): void {
  replaceSymlink(latestLink(packages), `${SNAPSHOTS}/${id}`);
  syncDirectory(packages);
  refreshTopLinks(packages);
}

/** A top-level name that is portsync's own, never a link into the snapshot. */
const ownName = (name: string) => name === LATEST || name.startsWith('.');

/** Top-level links into `latest` for every entry of the published snapshot; links to entries it lacks are removed. */
export function refreshTopLinks(packages: string): void {
  const top = new Set(readdirSync(join(packages, LATEST)).filter((n) => !ownName(n)));
  top.add(PACKAGE_DIR);
  for (const name of readdirSync(packages)) {
    if (ownName(name) || top.has(name)) continue;
    const path = join(packages, name);
    if (isLinkIntoLatest(path)) unlinkSync(path);
  }
  for (const name of top) {
    const path = join(packages, name);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st && !st.isSymbolicLink()) continue; // someone's own file next to the repository: left alone
    if (st && readlinkSync(path) === `${LATEST}/${name}`) continue;
    replaceSymlink(path, `${LATEST}/${name}`);
  }
}

export function isLinkIntoLatest(path: string): boolean {
  try {
    return readlinkSync(path).startsWith(`${LATEST}/`);
  } catch {
    return false;
  }
}

/** Notes what a snapshot is, inside it (written whole: readers of a published snapshot may read it). */
export function writeInfo(dir: string, info: SnapshotInfo): void {
  writeFileAtomic(join(dir, SNAPSHOT_INFO), `${JSON.stringify(info, null, 1)}\n`);
}

/** The snapshots beyond `keep`: all but the newest `keep`, never the published one whatever its age. */
export function snapshotsBeyond(packages: string, keep: number): Snapshot[] {
  const all = listSnapshots(packages);
  const kept = new Set(all.slice(-keep).map((s) => s.id));
  return all.filter((s) => !kept.has(s.id) && !s.published);
}

/** Removes the snapshots beyond `keep` (snapshotsBeyond). Returns the ids removed. */
export function trimSnapshots(packages: string, keep: number): string[] {
  return snapshotsBeyond(packages, keep).map((s) => {
    rmSync(s.dir, { recursive: true, force: true });
    return s.id;
  });
}

/**
 * The snapshot `rollback` goes to: `wanted` (an id or its number), or the newest one older than
 * the published one.
 */
export function rollbackTarget(packages: string, wanted?: string): Snapshot {
  const all = listSnapshots(packages);
  const ids = all.map((s) => `${s.id}${s.published ? ' (published)' : ''}`);
  if (wanted !== undefined) {
    const byNumber = /^\d+$/.test(wanted) ? all.find((s) => s.seq === Number(wanted)) : undefined;
    const found = byNumber ?? all.find((s) => s.id === wanted);
    if (!found) throw new NoSuchSnapshotError(packages, wanted, ids);
    return found;
  }
  const current = all.find((s) => s.published);
  const older = current ? all.filter((s) => s.seq < current.seq).at(-1) : undefined;
  if (!older) throw new NoSuchSnapshotError(packages, undefined, ids);
  return older;
}
