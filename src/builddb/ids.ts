/**
 * Run and build ids: UUIDv7, time-ordered, so `ORDER BY build_id` / `ORDER BY run_id` is
 * chronological and ids made in one millisecond still sort in the order they were made.
 */
import { v7 } from 'uuid';

export function newId(): string {
  return v7();
}
