/**
 * One pass at a time per project. A pass that records (the CLI's `reconcile`) holds
 * `<buildBase>/pass.lock` while it runs; the daemon holds it for as long as it runs. A second
 * pass that finds it held by a live process refuses, naming that process, its command and since
 * when — it never builds into the same repository unrecorded.
 *
 * The file is created whole and atomically (written under a temporary name, then hard-linked to
 * its name: the link fails while it exists; an exclusive create where there are no hard links).
 * A lock whose holder is gone (its pid dead, or reused by another process: the start time
 * differs) is stale and taken over. Two processes taking over the same stale lock at the same
 * instant could both win; the build database's own lock (DuckDB holds it for the whole pass)
 * then refuses one of them (`openPassDatabase`).
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseLockedError } from '../builddb/errors.js';
import { FailSafeBuildDB } from '../builddb/failsafe.js';
import { readLiveOwner } from '../builddb/owner.js';
import { isProcessAlive, processStartTime } from '../builder/sandbox/owner.js';
import { PortsyncError } from '../errors.js';

/** Who holds the pass lock. */
export interface PassHolder {
  pid: number;
  /** The holder's start time (Linux /proc stat field 22), so a reused pid is not taken for it. */
  startTime: string | null;
  command: string;
  /** ISO time the holder took the lock. */
  since: string;
}

export const PASS_LOCK_FILE = 'pass.lock';

export const passLockPath = (buildBase: string): string => join(buildBase, PASS_LOCK_FILE);

/** How long ago `since` was, for people: 42s, 3m12s, 2h05m. */
function ago(since: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  if (!Number.isFinite(s)) return 'an unknown time';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Another pass (or the daemon) is running on this project: this one is refused. Names the
 * holder and what to do; exit 2 like every error of the contract.
 */
export class PassRunningError extends PortsyncError {
  constructor(
    /** The lock that is held: the pass lock file, or the build database. */
    readonly lockFile: string,
    readonly holder: { pid?: number; command?: string; since?: string },
  ) {
    const { pid, command, since } = holder;
    const who = pid ? `pid ${pid}${command ? ` (${command})` : ''}` : 'another process';
    const when = since ? ` since ${since} (${ago(since)} ago)` : '';
    super(
      `another pass is already running on this project: ${who} has held ${lockFile}${when}. ` +
        `Two passes at once would build into the same repository; this one builds nothing. ` +
        `Wait for it to finish${pid ? `, or stop it (kill -TERM ${pid})` : ''}; while \`portsync watch\` runs, \`portsync reconcile\` goes through it.`,
    );
  }
}

/** A lock file that does not parse yet may be being written (file systems without hard links). */
const WRITING_GRACE_MS = 5000;

/** What held the lock file when it was read (`young`: written a moment ago); undefined if it vanished meanwhile. */
function readLock(file: string): { holder: PassHolder | undefined; ino: number; young: boolean } | undefined {
  try {
    const st = statSync(file);
    let holder: PassHolder | undefined;
    try {
      const o = JSON.parse(readFileSync(file, 'utf8')) as Partial<PassHolder>;
      if (typeof o.pid === 'number')
        holder = { pid: o.pid, startTime: o.startTime ?? null, command: String(o.command ?? ''), since: String(o.since ?? '') };
    } catch {
      // unparsable: left half-written by a crash, or being written right now
    }
    return { holder, ino: st.ino, young: Date.now() - st.mtimeMs < WRITING_GRACE_MS };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A held pass lock. `release()` removes the file if it is still this holder's. */
export class PassLock {
  private released = false;
  private readonly onExit = () => this.release();
  constructor(
    readonly file: string,
    private readonly ino: number,
    /** The stale holder this lock was taken over from, if any (for the log). */
    readonly tookOverFrom?: PassHolder,
  ) {
    // A crash or process.exit() must not leave the project locked until someone notices the pid is gone.
    process.once('exit', this.onExit);
  }
  release(): void {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    try {
      if (statSync(this.file).ino === this.ino) unlinkSync(this.file);
    } catch {
      // already gone
    }
  }
}

const defaultCommand = () => process.argv.join(' ');

/**
 * Creates `file` with `text` unless it exists (false then). Written under a temporary name and
 * hard-linked, so nobody reads it half-written; where the file system has no hard links, an
 * exclusive create (a reader may then see it empty for a moment: WRITING_GRACE_MS).
 */
function createWhole(file: string, text: string): boolean {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, text, { mode: 0o644 });
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  try {
    writeFileSync(file, text, { flag: 'wx', mode: 0o644 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Takes the pass lock of the project whose build base is `buildBase`, or throws PassRunningError
 * naming the live holder. `command` says who this is, for the next one refused.
 */
export async function acquirePassLock(buildBase: string, command: string = defaultCommand()): Promise<PassLock> {
  mkdirSync(buildBase, { recursive: true });
  const file = passLockPath(buildBase);
  const me: PassHolder = { pid: process.pid, startTime: await processStartTime(process.pid), command, since: new Date().toISOString() };
  let stale: PassHolder | undefined;
  for (let attempt = 0; attempt < 8; attempt++) {
    if (createWhole(file, `${JSON.stringify(me)}\n`)) return new PassLock(file, statSync(file).ino, stale);
    const seen = readLock(file);
    if (!seen) continue; // released meanwhile
    if (seen.holder ? await isProcessAlive(seen.holder.pid, seen.holder.startTime) : seen.young)
      throw new PassRunningError(file, seen.holder ?? {});
    // Its holder is gone (killed, crashed, the machine rebooted): remove it, if it is still that file.
    stale = seen.holder;
    try {
      if (statSync(file).ino === seen.ino) unlinkSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  // Lost every race for it: someone else keeps taking it.
  const now = readLock(file)?.holder;
  throw new PassRunningError(file, now ?? {});
}

/** Who holds the project's pass lock now (a live process), or undefined: no pass is running. */
export async function passLockHolder(buildBase: string): Promise<PassHolder | undefined> {
  const seen = readLock(passLockPath(buildBase));
  if (!seen?.holder) return undefined;
  return (await isProcessAlive(seen.holder.pid, seen.holder.startTime)) ? seen.holder : undefined;
}

/**
 * The build database for a pass that holds the pass lock. A database locked by another process
 * means another pass (or a command writing it) is running: refused with PassRunningError naming
 * it, never "build everything unrecorded". Any other fault at open (corrupt, read-only, full
 * disk) is the fail-safe's: logged, and the pass builds without recording.
 */
export async function openPassDatabase(path: string, log: (line: string) => void): Promise<FailSafeBuildDB> {
  try {
    return await FailSafeBuildDB.open(path, {}, log, (err) => err instanceof DatabaseLockedError);
  } catch (err) {
    if (!(err instanceof DatabaseLockedError)) throw err;
    const owner = readLiveOwner(err.file);
    const same = owner && (!err.holderPid || owner.pid === err.holderPid);
    throw new PassRunningError(err.file, {
      ...(err.holderPid ? { pid: err.holderPid } : {}),
      ...(err.holderCommand ? { command: err.holderCommand } : {}),
      ...(same && owner.started ? { since: owner.started } : {}),
    });
  }
}
