/**
 * Giving memory back between passes. A pass allocates a lot (a whole tree's plan) and V8 grows
 * its heap to match; left alone, an idle daemon keeps that high-water mark. A full collection
 * when the daemon goes idle brings it back near what it keeps alive (the tree's metadata and
 * the last plan).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: ((opts?: { type: 'major'; execution: 'sync' }) => void) | undefined;

export function collectGarbage(): void {
  if (!gc) {
    // --expose-gc set at run time: gc() of a fresh context is the collector of the whole isolate.
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as typeof gc;
  }
  gc!();
}
