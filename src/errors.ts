/**
 * The root of portsync's typed errors. Every failure a user can meet is a subclass
 * with the thing at fault as a field, so the CLI can print it and pick an exit code.
 */
export class PortsyncError extends Error {
  /** Exit status the CLI uses when this error ends a command. */
  readonly exitCode: number = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
