import { PortsyncError } from '../../errors.js';

/** Creating or entering a build environment failed (a mount, a missing tool): usually transient. */
export class EnvironmentSetupError extends PortsyncError {
  constructor(
    readonly slot: number,
    readonly step: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`build environment for worker slot ${slot}: ${step} failed: ${detail}`, options);
  }
}

/** Removing a directory would have reached into a mounted file system, so portsync refused. */
export class UnsafeCleanupError extends PortsyncError {
  constructor(
    readonly path: string,
    readonly mountpoint: string,
    detail = 'it still has a mount inside',
  ) {
    super(
      `refusing to remove ${path}: ${detail} (${mountpoint}); ` + `unmount it (umount -l ${mountpoint}) and run \`portsync cleanup\` again`,
    );
  }
}

/** A run was asked of an environment that was destroyed or whose namespace died. */
export class EnvironmentGoneError extends PortsyncError {
  constructor(
    readonly envId: string,
    detail: string,
  ) {
    super(`build environment ${envId} is no longer usable: ${detail}`);
  }
}

/** An environment variable a command was to get cannot be passed as given. */
export class BadEnvironmentVariableError extends PortsyncError {
  constructor(readonly variable: string) {
    super(`environment variable name ${JSON.stringify(variable)} is not valid: it must be non-empty and contain no "=" or NUL`);
  }
}
