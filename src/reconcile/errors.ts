import { PortsyncError } from '../errors.js';

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
