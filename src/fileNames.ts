/** Small helpers for the files portsync names and lists (logs, snapshots, staging copies). */
import { readdirSync } from 'node:fs';

/** The names in `dir`, or none when it does not exist (or cannot be read). */
export function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** `20261127T091432Z`: a UTC time for file names (sorts by age, no characters a shell or URL minds). */
export const compactUtc = (d: Date): string =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
