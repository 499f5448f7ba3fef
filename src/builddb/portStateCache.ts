/**
 * port_state as last read, by origin, and the origins written since. The writer is the only
 * process with the file open, so a read re-reads only those (the daemon's passes read every
 * port's state each time).
 */
export class PortStateCache<Row extends { origin: string }> {
  private rows: Map<string, Row> | null = null;
  private dirty: Set<string> | 'all' = 'all';

  /** Marks rows as changed in the database (undefined: all of them). */
  invalidate(origins?: readonly string[]): void {
    if (!origins || this.dirty === 'all') this.dirty = 'all';
    else for (const o of origins) this.dirty.add(o);
  }

  /**
   * Every row, sorted by origin: read whole the first time (and after invalidate()), else only
   * the changed rows. Unchanged rows are the same objects as last time (callers may memoize on them).
   */
  async read(readAll: () => Promise<Row[]>, readSome: (origins: readonly string[]) => Promise<Row[]>): Promise<Row[]> {
    const dirty = this.dirty;
    // Writes queued while this read runs invalidate their rows for the next read: the set is
    // renewed before reading, and what this read was to cover is marked again if it fails.
    this.dirty = new Set();
    if (!this.rows || dirty === 'all') {
      let rows: Row[];
      try {
        rows = await readAll();
      } catch (e) {
        this.dirty = 'all';
        throw e;
      }
      this.rows = new Map(rows.map((r) => [r.origin, r]));
      return rows;
    }
    if (dirty.size) {
      const origins = [...dirty];
      let fresh: Row[];
      try {
        fresh = await readSome(origins);
      } catch (e) {
        this.invalidate(origins);
        throw e;
      }
      for (const o of origins) this.rows.delete(o);
      for (const r of fresh) this.rows.set(r.origin, r);
      // Sorted by origin like the full read (new origins were appended to the map).
      if (fresh.length) this.rows = new Map([...this.rows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return [...this.rows.values()];
  }
}
