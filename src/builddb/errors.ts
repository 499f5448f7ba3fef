import { PortsyncError } from '../errors.js';

/** Where in the database a failure happened: the file, the operation, and the record at fault. */
export interface DatabaseErrorContext {
  file: string;
  operation: string;
  origin?: string;
  buildId?: string;
  cause?: unknown;
}

/** Base of every build-database error; carries the file and operation for the message and the log. */
export abstract class BuildDatabaseError extends PortsyncError {
  readonly file: string;
  readonly operation: string;
  readonly origin?: string;
  readonly buildId?: string;
  constructor(message: string, ctx: DatabaseErrorContext) {
    super(message, { cause: ctx.cause });
    this.file = ctx.file;
    this.operation = ctx.operation;
    this.origin = ctx.origin;
    this.buildId = ctx.buildId;
  }
}

export type UnavailableReason = 'read-only' | 'disk-full' | 'missing' | 'io' | 'invalidated' | 'closed' | 'incompatible';

/** The file cannot be opened or written: read-only, full disk, missing, or another I/O fault. */
export class DatabaseUnavailableError extends BuildDatabaseError {
  readonly reason: UnavailableReason;
  constructor(message: string, ctx: DatabaseErrorContext & { reason: UnavailableReason }) {
    super(message, ctx);
    this.reason = ctx.reason;
  }
}

/** Another process holds DuckDB's write lock on the file. */
export class DatabaseLockedError extends BuildDatabaseError {
  readonly holderPid?: number;
  readonly holderCommand?: string;
  constructor(message: string, ctx: DatabaseErrorContext & { holderPid?: number; holderCommand?: string }) {
    super(message, ctx);
    this.holderPid = ctx.holderPid;
    this.holderCommand = ctx.holderCommand;
  }
}

/** The file is not a readable DuckDB database. */
export class DatabaseCorruptError extends BuildDatabaseError {}

/** The file's schema was written by a newer portsync (or is too old to read without upgrading). */
export class DatabaseVersionError extends BuildDatabaseError {
  readonly fileVersion: number;
  readonly knownVersion: number;
  constructor(message: string, ctx: DatabaseErrorContext & { fileVersion: number; knownVersion: number }) {
    super(message, ctx);
    this.fileVersion = ctx.fileVersion;
    this.knownVersion = ctx.knownVersion;
  }
}

/** An operation names a build or run that does not exist. */
export class RecordNotFoundError extends BuildDatabaseError {
  readonly runId?: string;
  constructor(message: string, ctx: DatabaseErrorContext & { runId?: string }) {
    super(message, ctx);
    this.runId = ctx.runId;
  }
}

/** An operation was given a value it cannot store (bad status, negative duration, ...). */
export class RecordValidationError extends BuildDatabaseError {
  readonly field: string;
  readonly value: unknown;
  constructor(message: string, ctx: DatabaseErrorContext & { field: string; value: unknown }) {
    super(message, ctx);
    this.field = ctx.field;
    this.value = ctx.value;
  }
}

/** Recording a package in the package index failed. */
export class PackageIndexError extends BuildDatabaseError {}

/** Recording a port's CRC / build key failed. */
export class CRCError extends BuildDatabaseError {}

/** `query()` was given something other than one read-only statement, or the statement failed. */
export class QueryRejectedError extends BuildDatabaseError {
  readonly sql: string;
  constructor(message: string, ctx: DatabaseErrorContext & { sql: string }) {
    super(message, ctx);
    this.sql = ctx.sql;
  }
}
