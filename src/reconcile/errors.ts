import { GitError } from 'simple-git';
import { ConfigError, OriginGlobError } from '../config/errors.js';
import { fileSystemFault, PortsyncError } from '../errors.js';
import type { FailureKind } from './queue.js';

/** An origin asked about on the command line that the desired state does not cover. */
export class UnknownOriginError extends PortsyncError {
  constructor(
    readonly origin: string,
    hint = '; add it to ports: in builds.yaml, or check the spelling',
  ) {
    super(`${origin} is not in the closure of builds.yaml's ports${hint}`);
  }
}

/** Commit mode could not find or check out what it must reconcile. `transient`: the environment (a checkout that failed), not the repository's content. */
export class CommitSourceError extends PortsyncError {
  readonly transient: boolean;
  constructor(
    readonly repo: string,
    message: string,
    options?: { cause?: unknown; transient?: boolean },
  ) {
    super(`${repo}: ${message}`, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.transient = options?.transient ?? false;
  }
}

/**
 * What the daemon's loop does about a failed pass. Stalled: only the user can fix it (an invalid
 * committed builds.yaml with no good one before it, a glob matching nothing, an unknown branch,
 * a tree outside the repository) — retrying changes nothing. Transient: portsync's own errors
 * otherwise meet the environment (a tree, make, the database, the disk) and system errors are
 * the environment. Anything else (a TypeError…) is a bug.
 */
export function classifyPassError(err: unknown): FailureKind {
  if (err instanceof ConfigError || err instanceof OriginGlobError || err instanceof UnknownOriginError) return 'stalled';
  if (err instanceof CommitSourceError) return err.transient ? 'transient' : 'stalled';
  if (err instanceof PortsyncError || err instanceof GitError) return 'transient';
  if (fileSystemFault(err) || typeof (err as NodeJS.ErrnoException | undefined)?.code === 'string') return 'transient';
  return 'bug';
}
