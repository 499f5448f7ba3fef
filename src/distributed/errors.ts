/** The failures of distributed builds, each naming the thing at fault. */
import { PortsyncError } from '../errors.js';

/** A job taken from the queue is not one this agent can run as given (a malformed or hostile payload). */
export class JobPayloadError extends PortsyncError {
  constructor(
    readonly jobId: string,
    readonly field: string,
    detail: string,
  ) {
    super(`job ${jobId}: ${field} ${detail}; the job is refused (is the coordinator a portsync of the same version as this agent?)`);
  }
}

/** The agent's ports tree is not the tree the coordinator planned the job from. */
export class TreeMismatchError extends PortsyncError {
  constructor(
    readonly origin: string,
    readonly tree: string,
    detail: string,
  ) {
    super(
      `${origin}: the agent's ports tree ${tree} does not match the coordinator's: ${detail}; update the agent's tree (git pull, or the same checkout) and the next pass builds it`,
    );
  }
}

/** Moving a package between agent and coordinator failed (network, refusal, a package that is not what was announced). */
export class PackageTransferError extends PortsyncError {
  constructor(
    readonly pkgfile: string,
    readonly url: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${pkgfile}: ${url}: ${detail}`, options);
  }
}

/** The coordinator refused a package an agent uploaded (its checks, or the attempt is no longer wanted): nothing of it was kept. */
export class UploadRefusedError extends PortsyncError {
  constructor(
    readonly pkgfile: string,
    readonly url: string,
    /** The coordinator's reason, as it answered. */
    readonly reason: string,
  ) {
    super(`${pkgfile}: the coordinator (${url}) refused the package: ${reason}`);
  }
}

/** A distributed pass cannot start: its queue, its token or its package exchange is not usable. */
export class CoordinatorSetupError extends PortsyncError {
  constructor(
    readonly what: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`distributed executor: ${what}: ${detail}`, options);
  }
}
