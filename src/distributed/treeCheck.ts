/**
 * Does the agent's ports tree match the tree the coordinator planned from? A build from another
 * tree would be recorded under a key it was not built from, so a job is refused on a mismatch.
 *
 * Worktree mode compares content CRCs. An agent keeps each CRC it computed with the stat data its
 * files had (fingerprint/statRecords.ts, as the metadata cache does): while every one of them is
 * unchanged, the CRC stands without reading the files again, so an agent does not hash the same
 * framework files for every job. A changed, added or removed file changes that stat data, and
 * the CRC is computed again; files too recently modified to be trusted by it are never kept.
 *
 * Commit mode compares the commit checked out. git is asked (`git rev-parse HEAD`: every ref
 * format, worktrees) once, and its answer kept with the stat data of the files it comes from:
 * HEAD, the branch's loose ref, packed-refs and a reftable's table list. git replaces each of
 * them by a rename when it changes (a checkout, a commit, a pull, pack-refs): a new inode, seen
 * by the next check, which asks git again.
 */
import { execFile } from 'node:child_process';
import { isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { computeFileCRC, crcOfPortFiles, listPortTree } from '../fingerprint/portCrc.js';
import { StatRecords, changedSince, type StoredStatRecords } from '../fingerprint/statRecords.js';
import { TreeMismatchError } from './errors.js';
import type { BuildJob } from './job.js';

const run = promisify(execFile);

interface KnownCrc {
  crc: string;
  /** What it was computed from, as it was before it was read. */
  stat: StoredStatRecords;
}

/** The tree checks of one agent's tree, with the CRCs it has computed. */
export class TreeCheck {
  private readonly known = new Map<string, KnownCrc>();
  /** The commit checked out, and what it was read from (commit mode). */
  private head: { commit: string; stat: StoredStatRecords } | undefined;
  /** CRCs computed by reading files (the others were known): what the cache saves shows here. */
  reads = 0;
  /** Times git was asked for the commit checked out (the others were known). */
  gitRuns = 0;
  constructor(readonly tree: string) {}

  /** Throws TreeMismatchError naming what differs. */
  async check(job: Pick<BuildJob, 'origin' | 'dir' | 'tree'>): Promise<void> {
    const tree = this.tree;
    const mismatch = (detail: string) => new TreeMismatchError(job.origin, tree, detail);
    if (job.tree.kind === 'commit') {
      let head: string;
      try {
        head = await this.headCommit();
      } catch (e) {
        throw mismatch(
          `the job is for commit ${job.tree.commit}, and this tree is not a git work tree (${(e as Error).message.split('\n')[0]})`,
        );
      }
      if (head !== job.tree.commit) throw mismatch(`the job is for commit ${job.tree.commit}, this tree is at ${head}`);
      return;
    }
    let crc: string;
    try {
      crc = this.portCrc(job.dir);
    } catch (e) {
      throw mismatch(`${job.dir} cannot be read here (${(e as Error).message})`);
    }
    if (crc !== job.tree.portCrc) throw mismatch(`${job.dir} has CRC ${crc} here, ${job.tree.portCrc} on the coordinator`);
    for (const [rel, want] of Object.entries(job.tree.files)) {
      // Files outside the tree (a make profile's, @profile/…) are the coordinator's business: not checked here.
      if (rel.startsWith('@') || rel.startsWith('/') || rel.split('/').includes('..')) continue;
      let got: string;
      try {
        got = this.fileCrc(rel);
      } catch {
        throw mismatch(`${rel} is missing here`);
      }
      if (got !== want) throw mismatch(`${rel} has CRC ${got} here, ${want} on the coordinator`);
    }
  }

  /** The commit checked out in the tree: known while the files it was read from keep their stat data. */
  private async headCommit(): Promise<string> {
    if (this.head && changedSince(this.head.stat).paths.length === 0) return this.head.commit;
    this.head = undefined;
    const at = Date.now();
    const args = ['rev-parse', 'HEAD', '--absolute-git-dir', '--git-common-dir', '--symbolic-full-name', 'HEAD'];
    const [commit, gitDir, commonDir, ref] = (await run('git', ['-C', this.tree, ...args])).stdout.trim().split('\n');
    this.gitRuns++;
    // Their stat data is taken after git read them: one that changed since `at` is too recent to be trusted, and not kept.
    const common = isAbsolute(commonDir!) ? commonDir! : join(this.tree, commonDir!);
    const stat = new StatRecords();
    for (const f of [join(gitDir!, 'HEAD'), join(common, 'packed-refs'), join(common, 'reftable', 'tables.list')]) stat.addNow(f);
    if (ref?.startsWith('refs/')) for (const dir of new Set([gitDir!, common])) stat.addNow(join(dir, ref));
    if (stat.trustedAt(at)) this.head = { commit: commit!, stat: stat.store() };
    return commit!;
  }

  /** The content CRC of a port directory (portCrc.ts computePortCRC). */
  private portCrc(dir: string): string {
    return this.cached(`dir:${dir}`, (stat) => {
      const abs = join(this.tree, dir);
      const { files, dirs } = listPortTree(abs);
      for (const d of dirs) stat.add(d.rel ? join(abs, d.rel) : abs, false, 0, d.mtimeMs, d.ino);
      for (const f of files) stat.add(join(abs, f.rel), false, f.size, f.mtimeMs, f.ino);
      return crcOfPortFiles(abs, files);
    });
  }

  /** The content CRC of a file of the tree (symlinks followed). */
  private fileCrc(rel: string): string {
    return this.cached(`file:${rel}`, (stat) => {
      const abs = join(this.tree, rel);
      stat.addNow(abs, true);
      return computeFileCRC(abs);
    });
  }

  /** `compute` records the stat data of what it reads before reading it; the result is kept while that stays the same. */
  private cached(key: string, compute: (stat: StatRecords) => string): string {
    const known = this.known.get(key);
    if (known && changedSince(known.stat).paths.length === 0) return known.crc;
    this.known.delete(key);
    const at = Date.now();
    const stat = new StatRecords();
    const crc = compute(stat);
    this.reads++;
    if (stat.trustedAt(at)) this.known.set(key, { crc, stat: stat.store() });
    return crc;
  }
}
