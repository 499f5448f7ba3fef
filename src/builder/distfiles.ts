/**
 * The distfiles cache when builds fetch as the unprivileged build user (chroot backend).
 *
 * A build never sees the shared cache (`paths.distfiles`): its DISTDIR is a private directory
 * the build user owns. Before the first phase portsync (root) puts into it every file of the
 * port's `distinfo` that the cache holds *and that matches that distinfo* (size and SHA-256):
 * a hard link to the root-owned, read-only cache file (a copy across file systems), which the
 * build user can neither change nor make anyone else see. `fetch` then downloads what is missing
 * into the private directory. After `fetch`, portsync copies each file that matches the port's
 * distinfo into the cache: copied and hashed in one pass into a temporary name next to its
 * place, then renamed (nobody sees half a file; what was hashed is what is published).
 *
 * So a hostile port can publish only files that match its own distinfo, and another port never
 * gets a file that does not match its own: a name two ports share with different content is
 * fetched again by each, never handed over. Like poudriere (a private /portdistfiles, the
 * read-only cache linked in, copied back after `checksum`), except that fetch runs without root
 * and that portsync checks the checksums itself, in both directions.
 *
 * The private directory belongs to the build user, who may have left symbolic links there:
 * portsync never follows one (every path component is checked with lstat, files are opened with
 * O_NOFOLLOW). No process of the build user runs while portsync does this — each run's PID
 * namespace is gone when the run ends — so nothing changes between the check and the use.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, chown, copyFile, link, lstat, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** One file of a port's distinfo. */
export interface DistinfoEntry {
  /** As distinfo names it: relative to DISTDIR, DIST_SUBDIR/ included. */
  name: string;
  sha256: string;
  /** Bytes; undefined when distinfo gives no SIZE. */
  size?: number;
}

/** What distinfo lists, and the names it lists that portsync will not touch (why). */
export interface Distinfo {
  entries: DistinfoEntry[];
  refused: { name: string; why: string }[];
}

/** Why a distinfo name cannot be a path under DISTDIR, or undefined. */
export function distfileNameProblem(name: string): string | undefined {
  if (name === '' || name.includes('\0')) return 'empty, or contains a NUL';
  if (name.startsWith('/')) return 'an absolute path';
  if (name.split('/').some((part) => part === '' || part === '.' || part === '..'))
    return 'not a plain relative path (empty, . or .. component)';
  return undefined;
}

/**
 * The SHA256 and SIZE lines of distinfo text (FreeBSD's format: `SHA256 (name) = hex`, `SIZE
 * (name) = bytes`). Other lines (TIMESTAMP, MD5, noise) are ignored. A name with two different
 * checksums, or that is not a plain relative path, is refused.
 */
export function parseDistinfo(text: string): Distinfo {
  const sha = new Map<string, string>();
  const size = new Map<string, number>();
  const refused = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(SHA256|SIZE) \((.+)\) = (\S+)\s*$/.exec(line);
    if (!m) continue;
    const [, kind, name, value] = m as unknown as [string, string, string, string];
    const problem = distfileNameProblem(name);
    if (problem) {
      refused.set(name, problem);
      continue;
    }
    if (kind === 'SHA256') {
      if (!/^[0-9a-f]{64}$/i.test(value)) refused.set(name, `its SHA256 "${value}" is not 64 hex digits`);
      else if (sha.has(name) && sha.get(name) !== value.toLowerCase()) refused.set(name, 'two different SHA256 lines');
      else sha.set(name, value.toLowerCase());
    } else {
      if (!/^[0-9]+$/.test(value)) refused.set(name, `its SIZE "${value}" is not a number`);
      else if (size.has(name) && size.get(name) !== Number(value)) refused.set(name, 'two different SIZE lines');
      else size.set(name, Number(value));
    }
  }
  const entries: DistinfoEntry[] = [];
  for (const [name, sha256] of sha) {
    if (refused.has(name)) continue;
    const bytes = size.get(name);
    entries.push({ name, sha256, ...(bytes !== undefined ? { size: bytes } : {}) });
  }
  for (const name of size.keys()) if (!sha.has(name) && !refused.has(name)) refused.set(name, 'a SIZE without a SHA256');
  return { entries, refused: [...refused].map(([name, why]) => ({ name, why })) };
}

/**
 * Opens `base/name` for reading without following a symbolic link anywhere below `base`:
 * undefined when it is missing, and when some component is a link or not what it should be
 * (`why` says which).
 */
async function openBelow(base: string, name: string): Promise<{ fh: FileHandle } | { missing: true } | { why: string }> {
  const parts = name.split('/');
  let dir = base;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    const st = await lstat(dir).catch(() => null);
    if (!st) return { missing: true };
    if (!st.isDirectory()) return { why: `${dir} is ${st.isSymbolicLink() ? 'a symbolic link (never followed)' : 'not a directory'}` };
  }
  const path = join(base, name);
  try {
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      return { why: `${path} is not a regular file` };
    }
    return { fh };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { missing: true };
    if (code === 'ELOOP') return { why: `${path} is a symbolic link (never followed)` };
    throw e;
  }
}

/** SHA-256 of what is left to read of `fh` (at most `limit` bytes: past the expected size, the answer is "no" anyway), optionally writing it to `out`. */
async function hashAndCopy(fh: FileHandle, limit: number, out?: FileHandle): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  let bytes = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    if (bytesRead === 0) break;
    const chunk = buf.subarray(0, bytesRead);
    hash.update(chunk);
    if (out) await out.write(chunk);
    bytes += bytesRead;
    if (bytes > limit) break;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Makes `base/<dirs of name>` as real directories (never through a link), owned by `owner` when given. Returns why not, or undefined. */
async function makeDirsBelow(base: string, name: string, owner?: { uid: number; gid: number }): Promise<string | undefined> {
  let dir = base;
  for (const part of name.split('/').slice(0, -1)) {
    dir = join(dir, part);
    const st = await lstat(dir).catch(() => null);
    if (st?.isDirectory()) continue;
    if (st) return `${dir} is ${st.isSymbolicLink() ? 'a symbolic link (never followed)' : 'not a directory'}`;
    await mkdir(dir, { mode: 0o755 });
    if (owner) await chown(dir, owner.uid, owner.gid);
  }
  return undefined;
}

export interface SeedReport {
  /** Names put into the private directory, with the inode each got (to tell later whether the build replaced it). */
  seeded: Map<string, { dev: number; ino: number }>;
  /** Names the cache holds but not as this port's distinfo says: not handed over, fetched again. */
  mismatched: { name: string; why: string }[];
  /** Names that could not be put in place (a link planted in the private directory, an I/O error). */
  skipped: { name: string; why: string }[];
}

/**
 * Puts into `priv` (the build's private DISTDIR, owned by `owner`) each distinfo file the cache
 * holds as distinfo says: a hard link to the cache's root-owned file, or a root-owned copy when
 * the two are on different file systems. Never a file that does not match.
 */
export async function seedDistfiles(
  cache: string,
  priv: string,
  entries: readonly DistinfoEntry[],
  owner: { uid: number; gid: number },
): Promise<SeedReport> {
  const report: SeedReport = { seeded: new Map(), mismatched: [], skipped: [] };
  for (const e of entries) {
    const src = await openBelow(cache, e.name);
    if ('missing' in src) continue;
    let linkable = false;
    if ('why' in src) {
      report.mismatched.push({ name: e.name, why: src.why });
      continue;
    }
    try {
      const st = await src.fh.stat();
      if (e.size !== undefined && st.size !== e.size) {
        report.mismatched.push({ name: e.name, why: `it has ${st.size} bytes, distinfo says ${e.size}` });
        continue;
      }
      const { sha256 } = await hashAndCopy(src.fh, e.size ?? Number.MAX_SAFE_INTEGER);
      if (sha256 !== e.sha256) {
        report.mismatched.push({ name: e.name, why: `its SHA256 is ${sha256}, distinfo says ${e.sha256}` });
        continue;
      }
      // A link shares the inode: only a file the build user cannot write (ours, not group- or
      // world-writable: an older cache may hold others) is linked; anything else is copied.
      linkable = st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
    } finally {
      await src.fh.close();
    }
    const blocked = await makeDirsBelow(priv, e.name, owner);
    if (blocked) {
      report.skipped.push({ name: e.name, why: blocked });
      continue;
    }
    const from = join(cache, e.name);
    const to = join(priv, e.name);
    try {
      // Whatever is there (something the build user left) goes; unlink never follows a link.
      await unlink(to).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      let linked = false;
      if (linkable) {
        try {
          await link(from, to);
          linked = true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        }
      }
      if (!linked) {
        // Another file system, or a file the build user could write through a link: a root-owned copy (EXCL: `to` was just unlinked, nobody else may make it).
        await copyFile(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
        await chmod(to, 0o644);
      }
      const st = await lstat(to);
      report.seeded.set(e.name, { dev: st.dev, ino: st.ino });
    } catch (err) {
      report.skipped.push({ name: e.name, why: (err as Error).message });
    }
  }
  return report;
}

export interface PublishReport {
  /** Names copied into the cache. */
  published: string[];
  /** Names the build has but that do not match distinfo (or are not plain files): not published. */
  rejected: { name: string; why: string }[];
  /** Names that matched but could not be written to the cache (a full disk): the build goes on with its own copy. */
  failed: { name: string; why: string }[];
}

/**
 * Copies into `cache` each distinfo file the build fetched into `priv` that matches distinfo.
 * Files that are still the ones `seedDistfiles` put there are skipped.
 */
export async function publishDistfiles(
  priv: string,
  cache: string,
  entries: readonly DistinfoEntry[],
  seeded: ReadonlyMap<string, { dev: number; ino: number }>,
): Promise<PublishReport> {
  const report: PublishReport = { published: [], rejected: [], failed: [] };
  for (const e of entries) {
    const src = await openBelow(priv, e.name);
    if ('missing' in src) continue;
    if ('why' in src) {
      report.rejected.push({ name: e.name, why: src.why });
      continue;
    }
    let tmp: string | undefined;
    try {
      const st = await src.fh.stat();
      const was = seeded.get(e.name);
      if (was && was.dev === st.dev && was.ino === st.ino) continue; // the cache's own file
      if (e.size !== undefined && st.size !== e.size) {
        report.rejected.push({ name: e.name, why: `it has ${st.size} bytes, distinfo says ${e.size}` });
        continue;
      }
      const blocked = await makeDirsBelow(cache, e.name);
      if (blocked) {
        report.failed.push({ name: e.name, why: blocked });
        continue;
      }
      const dest = join(cache, e.name);
      tmp = join(dirname(dest), `.${e.name.split('/').pop()}.portsync-${randomBytes(6).toString('hex')}`);
      const out = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      let got: { sha256: string; bytes: number };
      try {
        got = await hashAndCopy(src.fh, e.size ?? Number.MAX_SAFE_INTEGER, out);
        await out.sync();
      } finally {
        await out.close();
      }
      if (got.sha256 !== e.sha256 || (e.size !== undefined && got.bytes !== e.size)) {
        report.rejected.push({ name: e.name, why: `its SHA256 is ${got.sha256}, distinfo says ${e.sha256}` });
        continue;
      }
      await chmod(tmp, 0o644);
      await rename(tmp, dest);
      tmp = undefined;
      report.published.push(e.name);
    } catch (err) {
      report.failed.push({ name: e.name, why: (err as Error).message });
    } finally {
      await src.fh.close();
      if (tmp) await unlink(tmp).catch(() => undefined);
    }
  }
  return report;
}
