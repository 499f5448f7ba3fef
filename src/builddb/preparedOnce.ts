/**
 * The write connection's statements with values, each prepared once and bound again for every
 * run. A pass — above all the coordinator of a distributed one — runs the same few statements for
 * every build (its start, phases, host, end, its port's state), and DuckDB's run(sql, values)
 * parses, prepares and frees each of them every time: that was most of the database's share of
 * the coordinator's main thread per job (issue 12). Binding is the same as run's (types from the
 * values), and DuckDB rebinds a prepared statement itself when the catalog changed since.
 *
 * Only writes of one shape are kept: INSERT … VALUES without a query, and UPDATE of the row whose
 * key is $1. A plan that reads can depend on the table's statistics when it was prepared, and
 * DuckDB does not plan it again when they change: a SELECT … ORDER BY prepared on an empty table
 * returns garbage once it has rows (DuckDB 1.5). Everything else — reads, statements without
 * values (BEGIN, COMMIT, DDL) — runs as before.
 */
import type { DuckDBConnection, DuckDBPreparedStatement } from './duckdb.js';

/** The most statements kept: plenty for the fixed ones; those of varying text (a number of rows) come and go. */
const MAX_STATEMENTS = 64;

/** A write whose plan reads nothing the data can change: kept prepared. */
export const keptPrepared = (sql: string): boolean =>
  !/\b(SELECT|FROM)\b/i.test(sql) && (/^\s*INSERT\b/i.test(sql) || /^\s*UPDATE\b[^]*\bWHERE\s+\w+\s*=\s*\$1\s*$/i.test(sql));

/** Makes `conn.run` keep its prepared statements (the connection frees them when it closes). */
export function preparedOnce(conn: DuckDBConnection): void {
  // In the order they were last used: the first is the one to go.
  const statements = new Map<string, DuckDBPreparedStatement>();
  const runText = conn.run.bind(conn);
  conn.run = async (sql, values, types) => {
    if (!values || !keptPrepared(sql)) return runText(sql, values, types);
    let prepared = statements.get(sql);
    if (prepared) statements.delete(sql);
    else {
      try {
        prepared = await conn.prepare(sql);
      } catch {
        return runText(sql, values, types); // several statements in one text: run as it always was (its error, if any)
      }
      if (statements.size >= MAX_STATEMENTS) {
        const [oldest, stale] = statements.entries().next().value!;
        statements.delete(oldest);
        stale.destroySync();
      }
    }
    statements.set(sql, prepared);
    prepared.clearBindings();
    prepared.bind(values, types);
    return prepared.run();
  };
}
