import { PortsyncError } from '../errors.js';

/** Another daemon already answers on the socket this one was told to use. */
export class DaemonRunningError extends PortsyncError {
  constructor(
    readonly socket: string,
    readonly pid: number | undefined,
  ) {
    super(`a daemon already runs (pid ${pid ?? 'unknown'}) on ${socket}; stop it first (kill -TERM ${pid ?? '<pid>'})`);
  }
}

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

/** A request body larger than the server accepts. */
export class BodyTooLargeError extends PortsyncError {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/** A request body that is not the JSON object the route expects. */
export class BadRequestError extends PortsyncError {
  constructor(
    readonly route: string,
    detail: string,
  ) {
    super(`${route}: ${detail}`);
  }
}

/** `portsync sql` before any reconcile created the database. */
export class NoDatabaseError extends PortsyncError {
  constructor(readonly file: string) {
    super(`no build database yet at ${file}; run portsync reconcile first`);
  }
}

/** `hook install` found a hook it did not write. */
export class ForeignHookError extends PortsyncError {
  constructor(readonly file: string) {
    super(`${file} exists and was not written by portsync; move it away or pass --force to replace it`);
  }
}

/** server.listen would open the acting API to the network without a webhook secret. */
export class InsecureListenError extends PortsyncError {
  constructor(readonly listen: string, readonly secretEnv: string) {
    super(
      `server.listen ${listen} is not a loopback address and no webhook secret is set (environment variable ${secretEnv} is empty or unset): ` +
        `anyone who reaches it could trigger passes. Set ${secretEnv}, listen on 127.0.0.1, or set server.allowInsecure: true`,
    );
  }
}
