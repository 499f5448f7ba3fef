import { PortsyncError } from '../errors.js';

/** A `*_DEPENDS` entry that is not `target:origin[:tag]`. */
export class MalformedDependencyError extends PortsyncError {
  constructor(
    readonly port: string,
    readonly variable: string,
    readonly entry: string,
    reason: string,
  ) {
    super(`${port}: malformed ${variable} entry "${entry}": ${reason} (expected target:category/port[@flavor][:tag])`);
  }
}

/** An origin string that is not `category/name[@flavor]`. */
export class MalformedOriginError extends PortsyncError {
  constructor(
    readonly origin: string,
    readonly where: string,
  ) {
    super(`malformed origin "${origin}" in ${where} (expected category/name[@flavor])`);
  }
}

/** make exited non-zero (or printed something unparseable) while reading a port's metadata. */
export class PortMetadataError extends PortsyncError {
  constructor(
    readonly origin: string,
    message: string,
    readonly stderr: string = '',
  ) {
    super(`${origin}: ${message}${stderr ? `\n${indent(stderr)}` : ''}`);
  }
}

/** The make command itself could not be started. */
export class MakeNotFoundError extends PortsyncError {
  constructor(
    readonly command: string,
    cause: unknown,
  ) {
    super(
      `cannot run make command "${command}": ${(cause as Error)?.message ?? cause}. Install it (Debian: apt-get install bmake) or set make.command in builds.yaml`,
      { cause },
    );
  }
}

export function indent(text: string, prefix = '    '): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}
