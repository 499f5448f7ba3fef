/** What can go wrong telling the world about a pass: each logged, none ever stops the pass. */
import { PortsyncError } from '../errors.js';
import type { HookName } from '../config/types.js';

/** A notify target needs an environment variable (urlEnv, secretEnv, a template's {{env.NAME}}) that is not set. */
export class NotifyEnvError extends PortsyncError {
  constructor(
    readonly target: string,
    readonly variable: string,
    readonly use: string,
  ) {
    super(
      `notify target ${target}: the environment variable ${variable} (${use}) is not set in portsync's environment; set it (and restart the daemon), or change the target in builds.yaml`,
    );
  }
}

/** A delivery that failed for good: a refusal (4xx) or every retry used up. */
export class DeliveryError extends PortsyncError {
  constructor(
    readonly target: string,
    readonly event: string,
    readonly attempts: number,
    readonly lastError: string,
    readonly permanent: boolean,
  ) {
    super(
      permanent
        ? `notify target ${target}: ${event} refused: ${lastError}; not retried — check the target's url, token and body in builds.yaml`
        : `notify target ${target}: ${event} not delivered after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${lastError}; given up — is the receiver up? (retries and retryDelay set how long portsync keeps trying)`,
    );
  }
}

/** A hook program that could not run, failed or ran too long. */
export class HookFailedError extends PortsyncError {
  constructor(
    readonly hook: HookName,
    readonly program: string,
    readonly subject: string,
    readonly reason: string,
    hint: string,
  ) {
    super(`hook ${hook} (${program}) for ${subject}: ${reason}; ${hint} (the pass goes on)`);
  }
}
