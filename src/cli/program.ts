/** What portsync's help and its manual page say of the program as a whole. */

/** What the program is, in one paragraph (help and the man page). */
export const PROGRAM_DESCRIPTION =
  'builds.yaml says which ports must be built and how; portsync reads the tree with make, computes a content-based build key for every port, compares it with its build database (DuckDB) and rebuilds exactly what drifted, dependencies first, each port in a fresh isolated worker, recording every decision and build.';

export const PROGRAM_EXITS: readonly (readonly [string, string])[] = [
  ['0', 'success (plan: in sync)'],
  ['1', 'plan: work to do; reconcile and fetch: a port failed or was blocked'],
  ['2', 'error: bad usage, invalid builds.yaml, no daemon (trigger), a SQL error, a machine fault'],
  ['130/143', 'reconcile stopped by SIGINT/SIGTERM'],
];

export const PROGRAM_OUTPUT =
  'Tables fit the terminal: ISO timestamps print as YYYY-MM-DD HH:MM:SS (UTC), commit hashes as 12 characters, and the widest column is cut with "…" until the table fits; --wide prints everything whole. --json prints the documents the contract fixes (schema/ and README), unchanged by the terminal. Errors go to stderr as "portsync COMMAND: message".';

export const PROGRAM_ENVIRONMENT: readonly (readonly [string, string])[] = [
  ['COLUMNS', "the width tables fit in (default: the terminal's; no limit when stdout is not a terminal)"],
  ['PORTSYNC_FROM_SOURCE=1', 'run the TypeScript sources through tsx instead of the compiled dist/'],
  ['PORTSYNC_MAX_WATCHES=N', 'watch: at most N inotify watches (then polling)'],
  ['PORTSYNC_WEBHOOK_SECRET', 'watch: the webhook secret, under the name server.webhookSecretEnv gives'],
];

export const PROGRAM_FILES: readonly (readonly [string, string])[] = [
  ['./builds.yaml', 'the desired state (schema/builds.schema.json); portsync validate checks it'],
  [
    '.portsync/',
    'next to builds.yaml unless paths.* say otherwise: build/ (workers, metadata cache), packages/ (latest → the published snapshot; packages/All/), distfiles/, logs/ (one log per build), builddb.duckdb, portsync.sock',
  ],
  [
    '<paths.logs>/report.html',
    "the last pass's HTML report (timeline, time per phase, failures, every port); one per pass in <paths.logs>/reports/",
  ],
];
