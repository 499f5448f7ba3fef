/**
 * Is the package in the repository the one portsync built? Each successful build records its
 * package's SHA-256; a file that differs (replaced, truncated, tampered with) must be rebuilt,
 * never installed or published. Hashing a whole repository on every plan is out of the
 * question, so what was verified is remembered by stat data (size, mtime, ctime, inode) in a
 * small cache file: a package is hashed again only when its stat data changed.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomicWrite.js';
import { deserialize, serialize } from 'node:v8';

interface Verified {
  stat: string;
  checksum: string;
}

const CACHE_VERSION = 1;

/** One verifier per cache file (a long-lived process keeps it). */
const open = new Map<string, PackageVerifier>();

export function packageVerifier(cacheFile: string): PackageVerifier {
  let v = open.get(cacheFile);
  if (!v) open.set(cacheFile, (v = new PackageVerifier(cacheFile)));
  return v;
}

/** What a package's verification is kept by: a change to any of these means hashing it again. */
export const packageStatKey = (path: string): string => {
  const s = statSync(path, { bigint: true });
  return `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`;
};
const statKey = packageStatKey;

export function sha256OfFile(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

export class PackageVerifier {
  private readonly verified: Map<string, Verified>;
  private dirty = false;

  constructor(private readonly cacheFile: string) {
    this.verified = new Map();
    try {
      const data = deserialize(readFileSync(cacheFile)) as { version: number; entries: [string, Verified][] };
      if (data.version === CACHE_VERSION) for (const [k, v] of data.entries) this.verified.set(k, v);
    } catch {
      // no cache yet, or unreadable: packages are hashed again (once)
    }
  }

  /**
   * Remembers a package just published with this checksum (no need to hash it again). `at` is
   * where the file is now when that differs from `path` (a staging copy about to be published).
   */
  remember(path: string, checksum: string, at = path): void {
    try {
      this.verified.set(path, { stat: statKey(at), checksum });
      this.dirty = true;
    } catch {
      // gone already: the next plan finds it missing
    }
  }

  /**
   * portsync itself hard-linked the file at `path` (a pass's staging copy): that changed its ctime
   * and nothing else. A verification made with the stat data it had just before (`before`) stands
   * with the new stat data (`after`); one made earlier does not.
   */
  relinked(path: string, before: string, after: string): void {
    const known = this.verified.get(path);
    if (!known || known.stat !== before || before === after) return;
    this.verified.set(path, { stat: after, checksum: known.checksum });
    this.dirty = true;
  }

  /** True when the file at `path` has this checksum (hashing it only if its stat data changed since it was last verified). */
  matches(path: string, checksum: string): boolean {
    let stat: string;
    try {
      stat = statKey(path);
    } catch {
      return false;
    }
    const known = this.verified.get(path);
    if (known && known.stat === stat) return known.checksum === checksum;
    const actual = sha256OfFile(path);
    this.verified.set(path, { stat, checksum: actual });
    this.dirty = true;
    return actual === checksum;
  }

  save(): void {
    if (!this.dirty) return;
    this.dirty = false;
    writeFileAtomic(this.cacheFile, serialize({ version: CACHE_VERSION, entries: [...this.verified] }), { mkdir: true });
  }
}

/** Where a desired state keeps its verifier's cache. */
export const packageCheckCache = (buildBase: string) => join(buildBase, 'package-checks.bin');
