/**
 * The bytes of the dependency packages the exchange serves, kept in memory: a package is
 * downloaded by every agent that installs it (up to once per agent, which caches it), so the
 * same small files are read again and again. Served from here, a download is one stat and one
 * write on the coordinator's main thread instead of a file stream (an open, reads and a close,
 * each a trip through the thread pool). An entry holds while the file keeps its stat data (a
 * package is replaced by a rename: a new inode); the least recently served go beyond `maxBytes`.
 */
import { statSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';

interface Entry {
  size: number;
  mtimeMs: number;
  ino: number;
  bytes: Buffer;
}

/** Files up to this size are kept (bigger ones are streamed from disk each time). */
export const SERVED_FILE_MAX = 1 << 20;

export class ServedPackages {
  /** In the order they were last served (a Map keeps insertion order). */
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  /** Reads from disk (tests, benchmarks). */
  reads = 0;

  constructor(private readonly maxBytes = 64 << 20) {}

  /**
   * The file's bytes when it is small enough to keep (from memory while its stat data is the
   * same), or its stat data for a caller that streams it; throws as statSync does when it is missing.
   */
  async get(file: string): Promise<{ bytes: Buffer } | { stat: Stats }> {
    const stat = statSync(file);
    if (stat.size > SERVED_FILE_MAX) return { stat };
    const known = this.entries.get(file);
    if (known && known.size === stat.size && known.mtimeMs === stat.mtimeMs && known.ino === stat.ino) {
      this.entries.delete(file);
      this.entries.set(file, known);
      return { bytes: known.bytes };
    }
    const bytes = await readFile(file);
    this.reads++;
    this.forget(file);
    // Kept only when it is still the file that was stat'ed (not replaced while it was read).
    if (bytes.length === stat.size) {
      this.entries.set(file, { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, bytes });
      this.bytes += bytes.length;
      for (const [old, e] of this.entries) {
        if (this.bytes <= this.maxBytes) break;
        this.entries.delete(old);
        this.bytes -= e.bytes.length;
      }
    }
    return { bytes };
  }

  private forget(file: string): void {
    const e = this.entries.get(file);
    if (!e) return;
    this.entries.delete(file);
    this.bytes -= e.bytes.length;
  }
}
