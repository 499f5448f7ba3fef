import {
  type BuildDatabaseError,
  type DatabaseErrorContext,
  DatabaseCorruptError,
  DatabaseLockedError,
  DatabaseUnavailableError,
} from './errors.js';
import { commandOfPid, readLiveOwner } from './owner.js';

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Turns a DuckDB failure caused by the file or its storage (lock, corruption, read-only,
 * full disk, I/O) into its typed error. Returns undefined for anything else (SQL, constraint,
 * ...), which the caller wraps in the error of its own operation.
 */
export function classifyStorageError(err: unknown, ctx: DatabaseErrorContext): BuildDatabaseError | undefined {
  const msg = messageOf(err);
  const c = { ...ctx, cause: err };
  const where = `build database ${ctx.file}`;
  if (/Could not set lock on file|Conflicting lock/.test(msg)) {
    const duckdbPid = /\(PID (\d+)\)/.exec(msg)?.[1];
    const recorded = readLiveOwner(ctx.file);
    // DuckDB names the real holder; the sidecar only adds its command line (and could be from a reused pid).
    const owner = recorded && (!duckdbPid || Number(duckdbPid) === recorded.pid) ? recorded : undefined;
    const pid = owner?.pid ?? (duckdbPid ? Number(duckdbPid) : undefined);
    const command = owner?.command ?? (pid ? commandOfPid(pid) : undefined);
    const who = pid ? `another portsync (pid ${pid}${command ? `: ${command}` : ''})` : 'another process';
    return new DatabaseLockedError(
      `${where} is locked: ${who} holds it; run this through the daemon (\`portsync\` commands use its socket automatically) or stop it`,
      { ...c, holderPid: pid, holderCommand: command },
    );
  }
  if (
    /not a valid DuckDB database file|Corrupt|checksum|Serialization Error|failed to read database header|Invalid Input Error: File is not/i.test(
      msg,
    )
  ) {
    return new DatabaseCorruptError(
      `${where} is corrupt (${msg.split('\n')[0]}); move it aside (e.g. mv ${ctx.file} ${ctx.file}.corrupt) and portsync starts a new one — build history is lost, packages are rebuilt only where missing or changed`,
      c,
    );
  }
  if (/created with an? (newer|older) version|incompatible|storage version/i.test(msg)) {
    return new DatabaseUnavailableError(`${where} was written by an incompatible DuckDB: ${msg.split('\n')[0]}`, {
      ...c,
      reason: 'incompatible',
    });
  }
  if (/No space left on device/i.test(msg)) {
    return new DatabaseUnavailableError(`${where}: the disk is full during ${ctx.operation}; free space and retry`, {
      ...c,
      reason: 'disk-full',
    });
  }
  if (/database does not exist|No such file or directory/i.test(msg)) {
    return new DatabaseUnavailableError(`${where} does not exist (nothing recorded yet?): ${msg.split('\n')[0]}`, {
      ...c,
      reason: 'missing',
    });
  }
  if (/Read-only file system|Permission denied|read-only mode|Cannot write to database/i.test(msg)) {
    return new DatabaseUnavailableError(
      `${where} cannot be written during ${ctx.operation} (${msg.split('\n')[0]}); make the file and its directory writable`,
      { ...c, reason: 'read-only' },
    );
  }
  if (/database has been invalidated|FATAL Error/i.test(msg)) {
    return new DatabaseUnavailableError(`${where} hit a fatal error and must be reopened: ${msg.split('\n')[0]}`, {
      ...c,
      reason: 'invalidated',
    });
  }
  if (/^IO Error/i.test(msg)) {
    return new DatabaseUnavailableError(`${where}: I/O error during ${ctx.operation}: ${msg.split('\n')[0]}`, { ...c, reason: 'io' });
  }
  return undefined;
}
