/** Reading a known part of an open file. */
import { readSync } from 'node:fs';

/** Where a part of a file is. */
export interface FileSection {
  offset: number;
  length: number;
}

/**
 * The bytes of a section of the open file `fd`; throws, naming `what`, when the file ends before
 * it does. `own`: in a memory block of their own (never a shared pool's: it can be transferred to
 * another thread).
 */
export function readSection(fd: number, { offset, length }: FileSection, what: string, opts: { own?: boolean } = {}): Buffer {
  const b = opts.own ? Buffer.allocUnsafeSlow(length) : Buffer.allocUnsafe(length);
  for (let got = 0; got < length;) {
    const n = readSync(fd, b, got, length - got, offset + got);
    if (n === 0) throw new Error(`${what} is truncated`);
    got += n;
  }
  return b;
}
