/** What git says about the ports tree (simple-git). */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { simpleGit } from 'simple-git';

/** The commit checked out in `dir`, or null when it is not a git work tree. */
export async function headCommit(dir: string): Promise<string | null> {
  // Read from the repository's files: a git process per pass costs a fork of this (large) process.
  const read = readHead(dir);
  if (read !== undefined) return read;
  try {
    const git = simpleGit({ baseDir: dir });
    if (!(await git.checkIsRepo())) return null;
    return (await git.revparse(['HEAD'])).trim();
  } catch {
    return null;
  }
}

const OBJECT_ID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * HEAD's commit read from the files of the repository that holds `dir` (a `.git` directory or a
 * worktree's `.git` file, loose or packed refs); null outside a repository; undefined when the
 * layout is one git alone should interpret (then git is asked).
 */
export function readHead(dir: string): string | null | undefined {
  try {
    let gitDir: string | undefined;
    for (let d = resolve(dir); ; d = dirname(d)) {
      const dotGit = join(d, '.git');
      const st = statSync(dotGit, { throwIfNoEntry: false });
      if (st?.isDirectory()) gitDir = dotGit;
      else if (st?.isFile()) {
        const m = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, 'utf8'));
        if (!m) return undefined;
        gitDir = resolve(d, m[1]!.trim());
      }
      if (gitDir || dirname(d) === d) break;
    }
    if (!gitDir) return null;
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    if (OBJECT_ID.test(head)) return head;
    const ref = /^ref: (refs\/\S+)$/.exec(head)?.[1];
    if (!ref) return undefined;
    // A linked worktree keeps its refs in the main repository (`commondir`).
    const commonFile = join(gitDir, 'commondir');
    const common = existsSync(commonFile) ? resolve(gitDir, readFileSync(commonFile, 'utf8').trim()) : gitDir;
    for (const base of new Set([gitDir, common])) {
      const loose = join(base, ref);
      if (existsSync(loose)) {
        const id = readFileSync(loose, 'utf8').trim();
        return OBJECT_ID.test(id) ? id : undefined;
      }
    }
    const packed = join(common, 'packed-refs');
    if (existsSync(packed)) {
      for (const line of readFileSync(packed, 'utf8').split('\n')) {
        const [id, name] = line.split(' ');
        if (name === ref && id && OBJECT_ID.test(id)) return id;
      }
    }
    return undefined; // an unborn branch, or refs in a format we do not read (reftable): ask git
  } catch {
    return undefined;
  }
}

export interface CommitInfo {
  sha: string;
  date: string;
  author: string;
  subject: string;
}

/**
 * Files under `paths` (relative to `dir`) that differ between `since` and the work tree,
 * and the commits since `since` that touched them. Empty answers outside git.
 */
export async function changesSince(
  dir: string,
  since: string,
  paths: readonly string[],
): Promise<{ files: string[]; commits: CommitInfo[] }> {
  try {
    const git = simpleGit({ baseDir: dir });
    const diff = await git.raw(['diff', '--name-only', '--relative', since, '--', ...paths]);
    const untracked = await git.raw(['ls-files', '--others', '--exclude-standard', '--', ...paths]);
    const log = await git.raw(['log', '--format=%h%x09%ad%x09%an%x09%s', '--date=short', `${since}..HEAD`, '--', ...paths]);
    const files = [...new Set([...diff.split('\n'), ...untracked.split('\n')].filter(Boolean))].sort();
    const commits = log
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [sha = '', date = '', author = '', subject = ''] = l.split('\t');
        return { sha, date, author, subject };
      });
    return { files, commits };
  } catch {
    return { files: [], commits: [] };
  }
}
