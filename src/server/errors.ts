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

/** `hook install` found a hook it did not write. */
export class ForeignHookError extends PortsyncError {
  constructor(readonly file: string) {
    super(`${file} exists and was not written by portsync; move it away or pass --force to replace it`);
  }
}

/** server.listen would open the acting API to the network without a webhook secret. */
export class InsecureListenError extends PortsyncError {
  constructor(
    readonly listen: string,
    readonly secretEnv: string,
  ) {
    super(
      `server.listen ${listen} is not a loopback address and no webhook secret is set (environment variable ${secretEnv} is empty or unset): ` +
        `anyone who reaches it could trigger passes. Set ${secretEnv}, listen on 127.0.0.1, or set server.allowInsecure: true`,
    );
  }
}
