/** How the daemon's loop takes a failed pass (queue.ts FailureKind). Apart from errors.ts: it names git's errors, and loading simple-git costs a command that needs no git a twentieth of a second. */
import { GitError } from 'simple-git';
import { ConfigError, OriginGlobError } from '../config/errors.js';
import { fileSystemFault, PortsyncError } from '../errors.js';
import { CommitSourceError, UnknownOriginError } from './errors.js';
import type { FailureKind } from './queue.js';

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
