/**
 * The write connection's queue, with group commit: operations run one at a time in the order
 * they were queued, and the grouped ones waiting behind a running operation run together in one
 * transaction — one commit (a disk sync) for all of them instead of one each, which is what the
 * coordinator of a distributed pass spent its time on (issue 12). Each grouped operation still
 * gets its own result or error: DuckDB has no SAVEPOINT, so when one fails the transaction is
 * rolled back and the others run again without it (the failed one's partial writes must not be
 * committed, and a failed statement aborts the whole transaction anyway).
 */

/** What the queue needs of the connection: a transaction's three statements. */
export interface Transactions {
  begin(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /** Told after each commit and rollback of the queue's own transactions (and after an operation run alone). */
  ended(committed: boolean): void;
}

interface Entry {
  grouped: boolean;
  run: () => Promise<unknown>;
  /** The error to give this operation when the commit of its group fails with `err`. */
  commitFailed: (err: unknown) => unknown;
  resolve: (v: unknown) => void;
  reject: (err: unknown) => void;
}

/** At most this many operations in one transaction: a bound on what one failure makes run again. */
const MAX_GROUP = 128;

export class WriteQueue {
  private readonly pending: Entry[] = [];
  private draining: Promise<void> | undefined;
  /** Transactions committed by grouped operations (benchmarks, tests). */
  commits = 0;

  constructor(private readonly tx: Transactions) {}

  /** Runs `run` alone, after everything queued before it: it manages its own transactions (migrations, recovery) or only reads. */
  alone<T>(run: () => Promise<T>): Promise<T> {
    return this.push(false, run, (err) => err);
  }

  /**
   * Runs `run` inside a transaction shared with the grouped operations queued next to it; it must
   * not begin or end one itself. Resolves once its writes are committed.
   */
  grouped<T>(run: () => Promise<T>, commitFailed: (err: unknown) => unknown): Promise<T> {
    return this.push(true, run, commitFailed);
  }

  /** Resolves when nothing is queued or running. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private push<T>(grouped: boolean, run: () => Promise<T>, commitFailed: (err: unknown) => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ grouped, run, commitFailed, resolve: resolve as (v: unknown) => void, reject });
      this.draining ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    // Started on a microtask: the writes queued in the same tick as this one join its group.
    await Promise.resolve();
    try {
      while (this.pending.length) {
        if (!this.pending[0]!.grouped) {
          await this.runAlone(this.pending.shift()!);
          continue;
        }
        let n = 1;
        while (n < this.pending.length && n < MAX_GROUP && this.pending[n]!.grouped) n++;
        await this.runGroup(this.pending.splice(0, n));
      }
    } finally {
      // In the same step as the last look at `pending`: a write queued after it starts a new drain.
      this.draining = undefined;
    }
  }

  private async runAlone(e: Entry): Promise<void> {
    try {
      const r = await e.run();
      this.tx.ended(true);
      e.resolve(r);
    } catch (err) {
      this.tx.ended(false);
      e.reject(err);
    }
  }

  private async runGroup(group: Entry[]): Promise<void> {
    let todo = group;
    while (todo.length) {
      try {
        await this.tx.begin();
      } catch (err) {
        for (const e of todo) e.reject(e.commitFailed(err));
        return;
      }
      const results: unknown[] = [];
      let failed = -1;
      let failure: unknown;
      for (const [i, e] of todo.entries()) {
        try {
          results.push(await e.run());
        } catch (err) {
          failed = i;
          failure = err;
          break;
        }
      }
      if (failed < 0) {
        try {
          await this.tx.commit();
        } catch (err) {
          await this.rollback();
          for (const e of todo) e.reject(e.commitFailed(err));
          return;
        }
        this.commits++;
        this.tx.ended(true);
        todo.forEach((e, i) => e.resolve(results[i]));
        return;
      }
      // The failed one's error is its own; the others (those before it ran, and are run again) go on without it.
      await this.rollback();
      todo[failed]!.reject(failure);
      todo = todo.filter((_, i) => i !== failed);
    }
  }

  private async rollback(): Promise<void> {
    await this.tx.rollback().catch(() => undefined);
    this.tx.ended(false);
  }
}
