/**
 * A pass's staging copy of the repository: `<packages>/.staging-<run id>`, made from the
 * published snapshot with a hard link per file (nothing is copied: a full disk does not stop a
 * pass that builds nothing new). Builds write their packages into it (a new file renamed into
 * place, never into a linked one). Before a catalog command runs, the files outside All/ are
 * made copies of their own (detachCatalogFiles): a command that rewrites a file in place must
 * not write into the published snapshot. Then it becomes a snapshot and is published
 * (snapshots.ts). A pass killed meanwhile leaves it behind, unpublished: the next pass removes it.
 */
import { rmSync, statSync } from 'node:fs';
import { copyFile, link, lstat, mkdir, readdir, readlink, rename, rm, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { namesIn } from '../fileNames.js';
import { packageStatKey, type PackageVerifier } from '../fingerprint/packageCheck.js';
import { PACKAGE_DIR, SNAPSHOT_INFO, STAGING_PREFIX, publishedPackage, snapshotDir } from './layout.js';
import { publishedSnapshotId, switchPublished, syncDirectory, writeInfo, type SnapshotInfo } from './snapshots.js';

export interface Staging {
  packages: string;
  dir: string;
  /** Where builds put their packages: `<dir>/All`. */
  all: string;
  /** The published snapshot it was made from (undefined: there was none). */
  from: string | undefined;
}

/** Hard links made at once: enough to keep the disk busy, few enough for the descriptor limit. */
const AT_ONCE = 64;

async function inBatches<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += AT_ONCE) await Promise.all(items.slice(i, i + AT_ONCE).map(fn));
}

/**
 * Makes the staging copy of the published snapshot. The verifier's knowledge of each package
 * survives the hard link (which changes its ctime): see PackageVerifier.relinked.
 */
export async function createStaging(packages: string, runId: string, verifier?: PackageVerifier): Promise<Staging> {
  const from = publishedSnapshotId(packages);
  const dir = join(packages, `${STAGING_PREFIX}${runId}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, PACKAGE_DIR), { recursive: true });
  if (from !== undefined) await copyTree(snapshotDir(packages, from), dir, '', packages, verifier);
  return { packages, dir, all: join(dir, PACKAGE_DIR), from };
}

async function copyTree(src: string, dest: string, rel: string, packages: string, verifier?: PackageVerifier): Promise<void> {
  const entries = await readdir(src, { withFileTypes: true });
  const inPackages = rel === PACKAGE_DIR;
  await inBatches(entries, async (e) => {
    const from = join(src, e.name);
    const to = join(dest, e.name);
    if (rel === '' && e.name === SNAPSHOT_INFO) return; // the snapshot's own note: the new one gets its own
    if (e.isDirectory()) {
      await mkdir(to, { recursive: true });
      await copyTree(from, to, rel ? `${rel}/${e.name}` : e.name, packages, verifier);
    } else if (e.isSymbolicLink()) {
      await symlink(await readlink(from), to);
    } else if (e.isFile()) {
      await linkPackage(from, to, verifier && inPackages ? publishedPackage(packages, e.name) : undefined, verifier);
    }
  });
}

async function linkPackage(from: string, to: string, published: string | undefined, verifier?: PackageVerifier): Promise<void> {
  let before: string | undefined;
  try {
    before = verifier ? packageStatKey(from) : undefined;
  } catch {
    before = undefined;
  }
  try {
    await link(from, to);
  } catch (e) {
    // A file system without hard links (or a package portsync may not link): a copy, then.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EXDEV' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw e;
    await copyFile(from, to);
    return;
  }
  if (verifier && published && before) verifier.relinked(published, before, packageStatKey(to));
}

/**
 * Gives every file outside All/ that is still a hard link into the published snapshot a copy of
 * its own (copied under a temporary name, then renamed over the link).
 */
export async function detachCatalogFiles(s: Staging, rel = ''): Promise<void> {
  const dir = rel ? join(s.dir, rel) : s.dir;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!(rel === '' && e.name === PACKAGE_DIR)) await detachCatalogFiles(s, rel ? `${rel}/${e.name}` : e.name);
      continue;
    }
    if (!e.isFile() || (await lstat(path)).nlink < 2) continue;
    const tmp = join(dir, `.${e.name}.portsync-detach`);
    await copyFile(path, tmp);
    await rename(tmp, path);
  }
}

/** Did the pass change the packages (a package added, replaced or removed) since the staging copy was made? */
export async function stagingChanged(s: Staging): Promise<boolean> {
  const now = await inodes(s.all);
  if (s.from === undefined) return now.size > 0;
  const then = await inodes(join(snapshotDir(s.packages, s.from), PACKAGE_DIR));
  if (now.size !== then.size) return true;
  for (const [name, ino] of now) if (then.get(name) !== ino) return true;
  return false;
}

async function inodes(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return out;
  }
  await inBatches(names, async (n) => {
    const st = await lstat(join(dir, n)).catch(() => undefined);
    if (st) out.set(n, st.ino);
  });
  return out;
}

/** Package files in the staging copy. */
export async function stagedPackageCount(s: Staging): Promise<number> {
  return (await readdir(s.all).catch(() => [])).length;
}

/**
 * Turns the staging copy into snapshot `id` and publishes it (snapshots.ts switchPublished).
 * Until the link is switched, readers see the previous snapshot whole.
 */
export async function publishStaging(s: Staging, id: string, info: Omit<SnapshotInfo, 'id' | 'createdAt'>): Promise<void> {
  writeInfo(s.dir, { id, createdAt: new Date().toISOString(), ...info });
  const dest = snapshotDir(s.packages, id);
  await mkdir(join(dest, '..'), { recursive: true });
  await rename(s.dir, dest);
  switchPublished(s.packages, id);
  syncDirectory(join(dest, '..'));
}

/** Throws the staging copy away: the published snapshot stays as it was. */
export async function discardStaging(s: Staging, verifier?: PackageVerifier): Promise<void> {
  await removeLinkedTree(s.dir, s.packages, verifier);
}

/**
 * Removes a directory of the repository (a staging copy, an old snapshot) whose packages may be
 * hard links of published ones. Each such unlink changes the published file's ctime (its link
 * count), which would make the verifier hash it again: portsync's own unlink is carried over
 * (PackageVerifier.relinked), as for the links made by createStaging.
 */
export async function removeLinkedTree(dir: string, packages: string, verifier?: PackageVerifier): Promise<void> {
  if (verifier) {
    const all = join(dir, PACKAGE_DIR);
    const names = await readdir(all).catch(() => [] as string[]);
    await inBatches(names, async (name) => {
      const here = join(all, name);
      const published = publishedPackage(packages, name);
      let before: string;
      try {
        const [a, b] = [statSync(here), statSync(published)];
        if (a.ino !== b.ino || a.dev !== b.dev) return;
        before = packageStatKey(published);
      } catch {
        return;
      }
      await unlink(here);
      try {
        verifier.relinked(published, before, packageStatKey(published));
      } catch {
        // gone meanwhile: hashed (found missing) next time
      }
    });
  }
  await rm(dir, { recursive: true, force: true });
}

/** Staging copies in the repository (a killed pass's, or the running pass's: only the pass-lock holder may remove them). */
export function leftoverStaging(packages: string): string[] {
  return namesIn(packages)
    .filter((n) => n.startsWith(STAGING_PREFIX))
    .map((n) => join(packages, n));
}

/** Removes every staging copy (the caller holds the pass lock: none is in use). Returns their paths. */
export function removeLeftoverStaging(packages: string): string[] {
  const found = leftoverStaging(packages);
  for (const dir of found) rmSync(dir, { recursive: true, force: true });
  return found;
}
