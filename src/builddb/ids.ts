/**
 * Run and build ids: UUIDv7, time-ordered, so `ORDER BY build_id` / `ORDER BY run_id` is
 * chronological and ids made in one millisecond still sort in the order they were made.
 */
import { v7 } from 'uuid';

export function newId(): string {
  return v7();
}

/**
 * An id as people are shown it: its last 8 characters. Time-ordered ids made in the same minute
 * share their first ones; the last are random (`logs --build` takes either end).
 */
export function shortId(id: string): string {
  return id.slice(-8);
}
