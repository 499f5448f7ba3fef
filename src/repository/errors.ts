/** What can go wrong publishing the repository, each naming the thing at fault. */
import { PortsyncError } from '../errors.js';

/** The catalog command (repository.catalogCommand) failed: the staging copy is not published. */
export class CatalogCommandError extends PortsyncError {
  constructor(
    readonly command: string,
    /** Its exit status; null when it was killed (signal or timeout). */
    readonly commandExit: number | null,
    readonly signal: string | null,
    /** The last lines it printed on stderr (stdout when stderr was empty). */
    readonly outputTail: string,
    readonly timedOutMs?: number,
  ) {
    const how =
      timedOutMs !== undefined
        ? `ran longer than repository.catalogTimeout (${timedOutMs} ms) and was killed`
        : commandExit !== null
          ? `exited ${commandExit}`
          : `was killed by ${signal ?? 'a signal'}`;
    super(
      `the catalog command \`${command}\` ${how}${outputTail ? `: ${outputTail.trim().split('\n').slice(-5).join(' | ')}` : ''}; the published repository stays as it was — fix the command (repository.catalogCommand in builds.yaml), then run a pass`,
    );
  }
}

/** `rollback --to X` names no kept snapshot, or there is none to go back to. */
export class NoSuchSnapshotError extends PortsyncError {
  constructor(
    readonly packages: string,
    readonly wanted: string | undefined,
    readonly kept: readonly string[],
  ) {
    const list = kept.length ? `kept: ${kept.join(', ')}` : 'none is kept';
    super(
      wanted !== undefined
        ? `no snapshot ${JSON.stringify(wanted)} in ${packages} (${list}); give one of these ids or its number`
        : `no earlier snapshot to roll back to in ${packages} (${list}); raise repository.keep to keep more`,
    );
  }
}

/** The repository directory holds something portsync cannot take over without losing a file. */
export class RepositoryLayoutError extends PortsyncError {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}
