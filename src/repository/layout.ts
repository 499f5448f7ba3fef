/**
 * Where things are in the package repository (`paths.packages`), published atomically as
 * poudriere's ATOMIC_PACKAGE_REPOSITORY does:
 *
 *   <packages>/latest -> .snapshots/<id>        the published repository: one symlink, switched by rename(2)
 *   <packages>/All    -> latest/All             so <packages>/All/<pkgfile> keeps working (and every
 *   <packages>/<name> -> latest/<name>          other top-level entry of the snapshot: the catalog)
 *   <packages>/.snapshots/<id>/All/…            the snapshots kept (repository.keep)
 *   <packages>/.staging-<run id>/All/…          a pass in progress (hard links of the unchanged packages)
 *
 * A reader that resolves `latest` (or any link through it) once sees one whole snapshot.
 */
import { join } from 'node:path';

export const LATEST = 'latest';
export const SNAPSHOTS = '.snapshots';
export const STAGING_PREFIX = '.staging-';
/** Where packages are inside a snapshot, as in every FreeBSD-family repository. */
export const PACKAGE_DIR = 'All';
/** What portsync notes about a snapshot (which run made it, from which), inside it. */
export const SNAPSHOT_INFO = '.portsync-snapshot.json';

/** `<seq>-<UTC time>`, e.g. 0007-20261127T091432Z: sorts by age, short to type for `rollback --to 7`. */
export const SNAPSHOT_ID = /^(\d{4,})-(\d{8}T\d{6}Z)$/;

export const latestLink = (packages: string): string => join(packages, LATEST);
export const snapshotsDir = (packages: string): string => join(packages, SNAPSHOTS);
export const snapshotDir = (packages: string, id: string): string => join(packages, SNAPSHOTS, id);

/**
 * The published packages as every reader names them: `<packages>/All`, a link into `latest`
 * (a plain directory in a repository no pass has converted yet).
 */
export const publishedPackageDir = (packages: string): string => join(packages, PACKAGE_DIR);

/** A package file of the published repository. */
export const publishedPackage = (packages: string, pkgfile: string): string => join(packages, PACKAGE_DIR, pkgfile);
