/** What can go wrong talking to the daemon or opening the database in its place. */
import { PortsyncError } from '../errors.js';

/** No daemon answers on the socket (for commands that need one, such as `trigger`). */
export class NoDaemonError extends PortsyncError {
  constructor(readonly socket: string) {
    super(`no daemon running at ${socket}; start one with: portsync watch`);
  }
}

/** The daemon answered a request with an error status. */
export class DaemonRequestError extends PortsyncError {
  constructor(
    readonly socket: string,
    readonly path: string,
    readonly status: number,
    detail: string,
  ) {
    super(`daemon at ${socket}: ${path} answered ${status}: ${detail}`);
  }
}

/** `portsync sql` before any reconcile created the database. */
export class NoDatabaseError extends PortsyncError {
  constructor(readonly file: string) {
    super(`no build database yet at ${file}; run portsync reconcile first`);
  }
}
