/**
 * A package's identity: a digest of what it contains, never of how the archive was written.
 * Entries are taken sorted by path; each contributes its path, type, permission bits, link
 * target and the SHA-256 of its content. Timestamps, owners, entry order and compression are
 * left out, so two builds that produce the same files give the same identity (the basis of
 * early cutoff).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { PortsyncError } from '../errors.js';
import type { PackageIdentity } from './types.js';

export class PackageUnreadableError extends PortsyncError {
  constructor(
    readonly file: string,
    cause: string,
  ) {
    super(`cannot read package ${file}: ${cause}; remove it so the port is rebuilt`);
  }
}

interface Entry {
  path: string;
  type: string;
  mode: number;
  link: string;
  digest: string;
}

const SHLIB = /\.so(\.\d+)*$/;

/** Reads the archive (tar, optionally gzip-compressed) and returns its normalized entries. */
function readEntries(file: string, bytes: Buffer): Entry[] {
  const entries: Entry[] = [];
  let failure: string | undefined;
  const parser = new Parser({
    strict: true,
    onwarn: (_code, message) => {
      failure ??= String(message);
    },
    onReadEntry: (e: ReadEntry) => {
      const hash = createHash('sha256');
      e.on('data', (chunk: Buffer) => hash.update(chunk));
      e.on('end', () => {
        entries.push({
          path: posix.normalize(e.path).replace(/^\.\//, '').replace(/\/$/, ''),
          type: e.type,
          mode: (e.mode ?? 0) & 0o7777,
          link: e.linkpath ?? '',
          digest: hash.digest('hex'),
        });
      });
    },
  });
  parser.on('error', (e: Error) => {
    failure ??= e.message;
  });
  // The parser works synchronously when given the whole buffer at once.
  parser.end(bytes);
  if (failure) throw new PackageUnreadableError(file, failure);
  return entries;
}

/** The identity, checksum and provided shared libraries of a package file. */
export function packageIdentity(file: string): PackageIdentity {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new PackageUnreadableError(file, (e as Error).message);
  }
  const entries = readEntries(file, bytes).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (entries.length === 0) throw new PackageUnreadableError(file, 'no entries (not a tar archive?)');
  const h = createHash('sha256');
  for (const e of entries) h.update(`${e.path}\0${e.type}\0${e.mode.toString(8)}\0${e.link}\0${e.digest}\n`);
  const shlibs = [
    ...new Set(entries.filter((e) => e.type !== 'Directory' && SHLIB.test(e.path)).map((e) => posix.basename(e.path))),
  ].sort();
  return { identity: h.digest('hex'), checksum: createHash('sha256').update(bytes).digest('hex'), shlibs };
}
