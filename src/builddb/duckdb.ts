/**
 * The DuckDB driver (@duckdb/node-api), loaded with require: it is a CommonJS package, and
 * importing it as an ES module makes Node scan its many files for their exports first — about
 * 0.3 s of every command that opens the database, twice what loading it this way costs.
 */
import { createRequire } from 'node:module';
import type * as DuckDB from '@duckdb/node-api';

const duckdb = createRequire(import.meta.url)('@duckdb/node-api') as typeof DuckDB;

export const { BIGINT, DuckDBDataChunk, DuckDBInstance, INTEGER, StatementType, TIMESTAMPTZ, VARCHAR, listValue, timestampTZValue } =
  duckdb;
// (The classes and the enum are types too.)
export type DuckDBInstance = DuckDB.DuckDBInstance;
export type DuckDBDataChunk = DuckDB.DuckDBDataChunk;
export type StatementType = DuckDB.StatementType;
export type { DuckDBConnection, DuckDBPreparedStatement, DuckDBType, DuckDBValue } from '@duckdb/node-api';
