/**
 * The hooks and deliveries a pass starts go on after it, in the background: tracked here so that
 * the daemon can wait for them when it stops (a while, then they are cancelled), and a CLI
 * process simply lives until they are done (their timers and processes keep it alive).
 */

const inFlight = new Set<Promise<unknown>>();
let cancel = new AbortController();

/** Runs `work` in the background; it must not reject (failures are its own to log). */
export function inBackground(work: (signal: AbortSignal) => Promise<unknown>): void {
  const p = work(cancel.signal).catch(() => undefined);
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
}

/** Hooks and deliveries not finished yet. */
export function backgroundCount(): number {
  return inFlight.size;
}

/**
 * Waits until every background hook and delivery is done, at most `timeoutMs`; then cancels the
 * rest (hooks are killed, deliveries stop retrying). Resolves true when all finished in time.
 */
export async function settleBackground(timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (inFlight.size) {
    const left = deadline - Date.now();
    if (left <= 0) {
      cancel.abort(new Error('portsync is stopping'));
      cancel = new AbortController();
      await Promise.allSettled([...inFlight]);
      return false;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }
  return true;
}

/** At most `limit` at once; the others wait their turn. */
export class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/** Sleeps `ms`, or less when `signal` aborts (then it rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
