/** The end of a build log, for failures shown in the dashboard and the report. */
import { open } from 'node:fs/promises';

/** The last `lines` lines of `path` (read from its last `maxBytes`), or a note saying why there is none. */
export async function logTail(path: string | null, lines = 40, maxBytes = 64 * 1024): Promise<string> {
  if (!path) return '(no log recorded)';
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    return `(log ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  try {
    const { size } = await fh.stat();
    const n = Math.min(size, maxBytes);
    const buf = Buffer.alloc(n);
    await fh.read(buf, 0, n, size - n);
    const text = buf.toString('utf8').replace(/\n$/, '');
    return text.split('\n').slice(-lines).join('\n');
  } finally {
    await fh.close();
  }
}
