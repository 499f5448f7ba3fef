import { PortsyncError } from '../errors.js';

/** One problem found in builds.yaml, at a 1-based line and column. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.col}: ${issue.message}`;
}

/** builds.yaml is unreadable or invalid; `issues` holds every problem found, in file order. */
export class ConfigError extends PortsyncError {
  override readonly exitCode = 2;
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
    options?: { cause?: unknown },
  ) {
    super(issues.map(formatIssue).join('\n'), options);
  }
}

/** A duration that is not a number with a unit such as `500ms`, `30s`, `1h30m` (or 0). */
export class DurationError extends PortsyncError {
  constructor(
    readonly value: string | number,
    reason: string,
  ) {
    super(
      `${JSON.stringify(value)} is not a duration: ${reason} (a duration is a number with a unit, largest first: 500ms, 30s, 10m, 2h, 1h30m; or 0)`,
    );
  }
}

/** A port glob in builds.yaml (or on the command line) that cannot be used. */
export class OriginGlobError extends PortsyncError {
  constructor(
    readonly pattern: string,
    reason: string,
  ) {
    super(`bad port glob "${pattern}": ${reason}`);
  }
}
