import { execFile } from 'node:child_process';
import { readFile, realpath } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points of the calling process's mount namespace. */
export async function listMountpoints(): Promise<string[]> {
  let text: string;
  try {
    text = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    // BSD and macOS: `mount -p` (BSD) or `mount` print "source on /path (…)" / fstab lines.
    const { stdout } = await run('mount', [], { encoding: 'utf8' });
    return stdout
      .split('\n')
      .map((line) => /^\S+ on (.+?) (?:\(|type )/.exec(line)?.[1])
      .filter((p): p is string => p !== undefined);
  }
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''));
}

/** Mount points at or below `path` (symlinks in it resolved), deepest first. */
export async function mountsUnder(path: string): Promise<string[]> {
  const dir = await realpath(path).catch(() => path);
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const all = await listMountpoints();
  const under = all.filter((mp) => mp === dir || mp.startsWith(prefix));
  return [...new Set(under)].sort((a, b) => b.length - a.length);
}

/** Unmounts `mountpoint`, falling back to a lazy unmount when it is busy. Returns false if both fail. */
export async function unmount(mountpoint: string): Promise<boolean> {
  try {
    await run('umount', [mountpoint]);
    return true;
  } catch {
    try {
      await run('umount', ['-l', mountpoint]);
      return true;
    } catch {
      return false;
    }
  }
}
