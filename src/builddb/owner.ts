import { readFileSync, rmSync, writeFileSync } from 'node:fs';

/**
 * The sidecar `<db>.owner` written by the read-write holder of a database, so that a process
 * refused by DuckDB's lock can tell the user who holds it. DuckDB's lock is the real guard;
 * this file is only advice, and a stale one (its pid gone) is ignored.
 */
export interface OwnerInfo {
  pid: number;
  command: string;
  started: string;
}

export function ownerFilePath(dbPath: string): string {
  return `${dbPath}.owner`;
}

export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a live process, from /proc; undefined where /proc is unavailable. */
export function commandOfPid(pid: number): string | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const cmd = raw.split('\0').filter(Boolean).join(' ');
    return cmd || undefined;
  } catch {
    return undefined;
  }
}

export function writeOwner(dbPath: string, command: string): void {
  const info: OwnerInfo = { pid: process.pid, command, started: new Date().toISOString() };
  writeFileSync(ownerFilePath(dbPath), `${JSON.stringify(info)}\n`);
}

/** The recorded owner, if the sidecar exists, parses, and its process is still alive. */
export function readLiveOwner(dbPath: string): OwnerInfo | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(ownerFilePath(dbPath), 'utf8'));
  } catch {
    return undefined;
  }
  const o = parsed as Partial<OwnerInfo>;
  if (typeof o?.pid !== 'number' || typeof o.command !== 'string' || !isPidAlive(o.pid)) return undefined;
  return { pid: o.pid, command: o.command, started: String(o.started ?? '') };
}

/** Removes the sidecar if this process wrote it. */
export function removeOwner(dbPath: string): void {
  try {
    const o = JSON.parse(readFileSync(ownerFilePath(dbPath), 'utf8')) as Partial<OwnerInfo>;
    if (o.pid !== process.pid) return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    // unparsable: ours to clean, since we held the lock
  }
  rmSync(ownerFilePath(dbPath), { force: true });
}
