/**
 * Content CRCs. A port's CRC is CRC32 (zlib.crc32) chained over every regular file of its
 * directory in sorted relative-path order: the relative path, a NUL byte, then the content
 * (a symlink contributes its target text). `.git`, `work`, `.svn` and `CVS` are skipped.
 * Same content ⇒ same CRC on any machine, whatever the mtimes or directory order.
 */
import { lstatSync, readFileSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export const SKIPPED_NAMES = new Set(['.git', 'work', '.svn', 'CVS']);
const NUL = Buffer.from([0]);

/** One entry of a port directory: path relative to it, and what identifies its state on disk. */
export interface DirEntryState {
  rel: string;
  kind: 'file' | 'symlink';
  size: number;
  mtimeMs: number;
  ino: number;
}

export const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/** A directory of a port (`''` for the port directory itself) and what identifies its listing. */
export interface DirState {
  rel: string;
  mtimeMs: number;
  ino: number;
}

/** Lists a port directory's files (recursively, sorted by relative path) with their stat data. */
export function listPortFiles(portDir: string): DirEntryState[] {
  return listPortTree(portDir).files;
}

/** The port's files and, for each of its directories, the stat data that changes when entries are added or removed. */
export function listPortTree(portDir: string): { files: DirEntryState[]; dirs: DirState[] } {
  const out: DirEntryState[] = [];
  const dirs: DirState[] = [];
  const walk = (abs: string, rel: string) => {
    const st = lstatSync(abs);
    dirs.push({ rel, mtimeMs: st.mtimeMs, ino: st.ino });
    for (const name of readdirSync(abs)) {
      if (SKIPPED_NAMES.has(name)) continue;
      const p = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p, r);
      else if (st.isFile() || st.isSymbolicLink()) out.push(entryState(r, st));
    }
  };
  walk(portDir, '');
  return { files: out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0)), dirs };
}

/** The stat data of known entries, for revalidating a listing without reading directories. */
export function entryStateOf(portDir: string, rel: string): DirEntryState {
  return entryState(rel, lstatSync(join(portDir, rel)));
}

function entryState(rel: string, st: Stats): DirEntryState {
  return { rel, kind: st.isSymbolicLink() ? 'symlink' : 'file', size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

/** CRC of the listed files of a port directory (sync: used by the scanner's cache). */
export function crcOfPortFiles(portDir: string, files: readonly DirEntryState[]): string {
  let crc = 0;
  for (const f of files) {
    const p = join(portDir, f.rel);
    crc = crc32(Buffer.from(f.rel), crc);
    crc = crc32(NUL, crc);
    crc = crc32(f.kind === 'symlink' ? Buffer.from(readlinkSync(p)) : readFileSync(p), crc);
  }
  return hex8(crc);
}

/** computePortCRC(portDir): the port's content CRC, 8 hex digits. */
export async function computePortCRC(portDir: string): Promise<string> {
  return crcOfPortFiles(portDir, listPortFiles(portDir));
}

/** CRC32 of one file's content, 8 hex digits. */
export function computeFileCRC(file: string): string {
  return hex8(crc32(readFileSync(file)));
}
