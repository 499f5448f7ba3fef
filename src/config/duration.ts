import { DurationError } from './errors.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;
/** Largest unit first; a duration string must use its units in this order, each once. */
const UNIT_ORDER: Unit[] = ['d', 'h', 'm', 's', 'ms'];

/** A bare number has no unit: `debounce: 500` could mean 500 ms or 500 s (portsync 0.1 read seconds). */
const noUnit = (n: string | number) => `it has no unit; write ${n}s for seconds or ${n}ms for milliseconds`;

/**
 * A duration in milliseconds: number+unit groups, largest unit first — `500ms`, `30s`, `10m`,
 * `2h`, `1h30m`, `1d` — or zero (`0`, the one number that needs no unit). Any other bare number
 * (`500`, `"500"`) is a DurationError saying which units to choose from.
 */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (value === 0) return 0;
    if (!Number.isFinite(value) || value < 0) throw new DurationError(value, 'it must be zero or more');
    throw new DurationError(value, noUnit(value));
  }
  const s = value.trim();
  if (s === '') throw new DurationError(value, 'it is empty');
  if (/^\d+(\.\d+)?$/.test(s)) {
    if (Number(s) === 0) return 0;
    throw new DurationError(value, noUnit(s));
  }
  const group = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let ms = 0;
  let lastRank = -1;
  let end = 0;
  for (let m = group.exec(s); m; m = group.exec(s)) {
    const unit = m[2] as Unit;
    const rank = UNIT_ORDER.indexOf(unit);
    if (rank <= lastRank) throw new DurationError(value, `unit "${unit}" is repeated or out of order (largest unit first, e.g. 1h30m)`);
    lastRank = rank;
    ms += Number(m[1]) * UNIT_MS[unit];
    end = group.lastIndex;
  }
  if (end !== s.length) {
    const rest = s.slice(end);
    throw new DurationError(
      value,
      end === 0
        ? 'it does not start with a number and a unit (ms, s, m, h, d)'
        : `"${rest}" is not a number followed by a unit (ms, s, m, h, d)`,
    );
  }
  return Math.round(ms);
}

/** A span of time for people, as builds.yaml writes durations: 42s, 3m12s, 2h05m. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (!Number.isFinite(s)) return 'an unknown time';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
