/**
 * A throwaway portsync project for integration tests: a copy of a ports tree, a builds.yaml
 * with every path inside a temp dir, and helpers to run passes and read the real database.
 */
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildDB } from '../../src/builddb/db.js';
import { LineProgress } from '../../src/builder/progress.js';
import { loadDesiredState } from '../../src/config/load.js';
import { reconcilePass, type PassOptions } from '../../src/reconcile/pass.js';
import type { PassResult } from '../../src/reconcile/passResult.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EXAMPLE_TREE = join(REPO, 'examples', 'ports');

export interface ProjectOptions {
  ports: (string | Record<string, unknown>)[];
  backend?: 'chroot' | 'host';
  workers?: number;
  tree?: string;
  extra?: string;
}

export class TestProject {
  readonly dir: string;
  readonly tree: string;
  readonly config: string;
  constructor(opts: ProjectOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'portsync-it-'));
    // mkdtemp makes it 0700: as root, the tree would then be read as root (with a warning), not as
    // the unprivileged reader that production trees get (src/ports/make-user.ts).
    chmodSync(this.dir, 0o755);
    this.tree = join(this.dir, 'ports');
    cpSync(opts.tree ?? EXAMPLE_TREE, this.tree, { recursive: true, dereference: true });
    this.config = join(this.dir, 'builds.yaml');
    this.writeConfig(opts);
  }
  writeConfig(opts: ProjectOptions): void {
    const ports = opts.ports.map((p) => `  - ${JSON.stringify(p)}`).join('\n');
    writeFileSync(
      this.config,
      [
        'portsTree: { path: ports }',
        'make: { command: bmake, env: { MAKESYSPATH: ./ports/Mk } }',
        `workers: ${opts.workers ?? 2}`,
        `environment: { backend: ${opts.backend ?? 'chroot'} }`,
        'watch: { debounce: 100ms }',
        `ports:\n${ports}`,
        opts.extra ?? '',
      ].join('\n'),
    );
  }
  /** Path of a file in the tree. */
  file(rel: string): string {
    return join(this.tree, rel);
  }
  append(rel: string, text: string): void {
    appendFileSync(this.file(rel), text);
  }
  write(rel: string, text: string): void {
    writeFileSync(this.file(rel), text);
  }
  /**
   * Adds a port with no distfiles to the tree whose build runs the shell line `build` (a slow
   * port for the signal, lock, metrics and restart tests). Without `install` it installs nothing.
   */
  addPort(origin: string, opts: { build: string; install?: string }): void {
    const [category, name] = origin.split('/') as [string, string];
    mkdirSync(this.file(origin), { recursive: true });
    const lines = [`PORTNAME=\t${name}`, 'PORTVERSION=\t1.0', `CATEGORIES=\t${category}`, 'COMMENT=\tSleeps while building', 'DISTFILES='];
    if (!opts.install) lines.push('NO_INSTALL=\tyes');
    lines.push('do-build:', `\t${opts.build}`);
    if (opts.install) lines.push('do-install:', `\t${opts.install}`);
    this.write(`${origin}/Makefile`, [...lines, '', '.include <bsd.port.mk>', ''].join('\n'));
  }
  read(rel: string): string {
    return readFileSync(this.file(rel), 'utf8');
  }
  get database(): string {
    return join(this.dir, '.portsync', 'builddb.duckdb');
  }
  get packages(): string {
    return join(this.dir, '.portsync', 'packages', 'All');
  }
  /** One pass in this process; `lines` collects what it printed. */
  async pass(extra: Partial<PassOptions> = {}): Promise<PassResult & { lines: string[] }> {
    const lines: string[] = [];
    const state = await loadDesiredState(this.config);
    const r = await reconcilePass(state, {
      trigger: 'test',
      progress: new LineProgress((l) => lines.push(l)),
      log: (l) => lines.push(l),
      ...extra,
    });
    return { ...r, lines };
  }
  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    const db = await BuildDB.open(this.database, { readOnly: true });
    try {
      const r = await db.query(sql);
      return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])) as T);
    } finally {
      await db.close();
    }
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function rootMissing(): string | undefined {
  if (process.platform !== 'linux') return `chroot workers need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'chroot workers need root (CI runs as root; run the tests with sudo to include them)';
  return undefined;
}
