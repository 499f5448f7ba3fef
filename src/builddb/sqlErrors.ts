/**
 * Why user SQL (`portsync sql`, POST /sql) was stopped by one of its limits. All are
 * QueryRejectedError, so whoever already handles that (the router: 400, the CLI: exit 2) still does.
 */
import { QueryRejectedError } from './errors.js';

export const OPERATION = 'query';

/** A byte count as users write it: 512 MiB, 64 MiB, 1.5 GiB. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

/** The query ran past its time limit and was interrupted (DuckDB stopped executing it). */
export class QueryTimeoutError extends QueryRejectedError {
  readonly limitMs: number;
  constructor(sql: string, file: string, limitMs: number, cause?: unknown) {
    super(
      `query stopped: it ran longer than the ${limitMs} ms limit for SQL and was interrupted; ` +
        'add a LIMIT or WHERE filters, or aggregate (GROUP BY) instead of listing rows, so it finishes sooner',
      { file, operation: OPERATION, sql, cause },
    );
    this.limitMs = limitMs;
  }
}

/** The query needed more memory than the limit for SQL (and more temporary disk space to spill into). */
export class QueryMemoryError extends QueryRejectedError {
  readonly limitBytes: number;
  readonly tempLimitBytes: number;
  constructor(
    sql: string,
    file: string,
    limits: { memoryLimitBytes: number; tempLimitBytes: number },
    duckdbMessage: string,
    cause?: unknown,
  ) {
    const spill = /max_temp_directory_size/.test(duckdbMessage);
    const firstLine = duckdbMessage.split('\n')[0]!;
    super(
      `query stopped: it needs more ${spill ? `than the ${formatBytes(limits.memoryLimitBytes)} of memory and ${formatBytes(limits.tempLimitBytes)} of temporary disk space` : `memory than the ${formatBytes(limits.memoryLimitBytes)}`} limit for SQL (${firstLine}); ` +
        'filter rows early (WHERE), select fewer columns, or aggregate in smaller steps',
      { file, operation: OPERATION, sql, cause },
    );
    this.limitBytes = limits.memoryLimitBytes;
    this.tempLimitBytes = limits.tempLimitBytes;
  }
}

/** The query was stopped because whoever asked for it went away (the HTTP client disconnected). */
export class QueryCancelledError extends QueryRejectedError {
  constructor(sql: string, file: string, why: string) {
    super(`query cancelled: ${why}`, { file, operation: OPERATION, sql });
  }
}
