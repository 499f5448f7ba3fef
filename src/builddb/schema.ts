/**
 * The database schema as an ordered list of forward migrations. A database records the versions
 * applied in `schema_version`; opening it read-write applies the missing ones in order, each in
 * its own transaction. To change the schema, append { version: N+1, statements } — never edit
 * an applied one.
 */
export interface Migration {
  version: number;
  description: string;
  statements: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'builds, build_phases, port_state, runs',
    statements: [
      `CREATE TABLE runs (
        run_id UUID PRIMARY KEY,
        trigger VARCHAR NOT NULL,
        git_commit VARCHAR,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        status VARCHAR NOT NULL CHECK (status IN ('running', 'success', 'failed', 'interrupted', 'error')),
        total INTEGER, success INTEGER, failed INTEGER, skipped INTEGER, ignored INTEGER, blocked INTEGER,
        duration_ms BIGINT,
        error VARCHAR,
        pid INTEGER
      )`,
      `CREATE TABLE builds (
        build_id UUID PRIMARY KEY,
        run_id UUID,
        origin VARCHAR NOT NULL,
        flavor VARCHAR NOT NULL DEFAULT '',
        pkgname VARCHAR,
        version VARCHAR,
        status VARCHAR NOT NULL CHECK (status IN ('running', 'success', 'failed', 'interrupted')),
        crc VARCHAR,
        build_key VARCHAR,
        key_parts VARCHAR, -- JSON text of the BuildKeyParts (VARCHAR: the JSON type validates on every append)
        trigger VARCHAR,
        reason VARCHAR,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        duration_ms BIGINT,
        last_phase VARCHAR,
        log_path VARCHAR,
        error VARCHAR,
        pid INTEGER
      )`,
      `CREATE TABLE build_phases (
        build_id UUID NOT NULL,
        phase VARCHAR NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        duration_ms BIGINT NOT NULL,
        exit_code INTEGER NOT NULL
      )`,
      `CREATE TABLE port_state (
        origin VARCHAR PRIMARY KEY,
        crc VARCHAR,
        build_key VARCHAR,
        key_parts VARCHAR, -- JSON text of the BuildKeyParts (VARCHAR: the JSON type validates on every append)
        version VARCHAR,
        pkgname VARCHAR,
        pkgfile VARCHAR,
        build_id UUID,
        updated_at TIMESTAMPTZ NOT NULL,
        failed_key VARCHAR,
        failed_build_id UUID,
        failed_at TIMESTAMPTZ
      )`,
    ],
  },
  {
    version: 2,
    description: 'package identity and checksum, peak memory and CPU time, shared file sets of key parts, cut-off counts',
    statements: [
      // A port's key parts name their makefile and framework file sets by digest; each set is stored once.
      `CREATE TABLE file_sets (digest VARCHAR PRIMARY KEY, files VARCHAR NOT NULL)`,
      `ALTER TABLE port_state ADD COLUMN pkg_identity VARCHAR`,
      `ALTER TABLE port_state ADD COLUMN pkg_checksum VARCHAR`,
      `ALTER TABLE port_state ADD COLUMN pkg_shlibs VARCHAR`,
      `ALTER TABLE builds ADD COLUMN pkg_identity VARCHAR`,
      `ALTER TABLE builds ADD COLUMN pkg_checksum VARCHAR`,
      // What a build took, from its cgroup: so `sql` can show the heavy ports.
      `ALTER TABLE builds ADD COLUMN peak_memory_bytes BIGINT`,
      `ALTER TABLE builds ADD COLUMN cpu_ms BIGINT`,
      `ALTER TABLE runs ADD COLUMN cutoff INTEGER`,
    ],
  },
  {
    version: 3,
    description: 'packages removed from the repository by policy.prune',
    statements: [
      // One row per package file a pass pruned (src/reconcile/prune.ts); origin: the port whose package it was, when known.
      `CREATE TABLE pruned_packages (
        run_id UUID,
        pkgfile VARCHAR NOT NULL,
        origin VARCHAR,
        version VARCHAR,
        reason VARCHAR,
        pruned_at TIMESTAMPTZ NOT NULL
      )`,
    ],
  },
  {
    version: 4,
    description: 'the build host of each build (an agent of a distributed pass; null: the coordinator itself)',
    statements: [`ALTER TABLE builds ADD COLUMN host VARCHAR`],
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export const CREATE_SCHEMA_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL,
  portsync_pid INTEGER
)`;
