import { PortsyncError } from '../errors.js';

/** An origin asked about on the command line that the desired state does not cover. */
export class UnknownOriginError extends PortsyncError {
  constructor(readonly origin: string, hint = '; add it to ports: in builds.yaml, or check the spelling') {
    super(`${origin} is not in the closure of builds.yaml's ports${hint}`);
  }
}
