/** What git says about the ports tree (simple-git). */
import { simpleGit } from 'simple-git';

/** The commit checked out in `dir`, or null when it is not a git work tree. */
export async function headCommit(dir: string): Promise<string | null> {
  try {
    const git = simpleGit({ baseDir: dir });
    if (!(await git.checkIsRepo())) return null;
    return (await git.revparse(['HEAD'])).trim();
  } catch {
    return null;
  }
}

export interface CommitInfo { sha: string; date: string; author: string; subject: string }

/**
 * Files under `paths` (relative to `dir`) that differ between `since` and the work tree,
 * and the commits since `since` that touched them. Empty answers outside git.
 */
export async function changesSince(dir: string, since: string, paths: readonly string[]): Promise<{ files: string[]; commits: CommitInfo[] }> {
  try {
    const git = simpleGit({ baseDir: dir });
    const diff = await git.raw(['diff', '--name-only', '--relative', since, '--', ...paths]);
    const untracked = await git.raw(['ls-files', '--others', '--exclude-standard', '--', ...paths]);
    const log = await git.raw(['log', '--format=%h%x09%ad%x09%an%x09%s', '--date=short', `${since}..HEAD`, '--', ...paths]);
    const files = [...new Set([...diff.split('\n'), ...untracked.split('\n')].filter(Boolean))].sort();
    const commits = log.split('\n').filter(Boolean).map((l) => {
      const [sha = '', date = '', author = '', subject = ''] = l.split('\t');
      return { sha, date, author, subject };
    });
    return { files, commits };
  } catch {
    return { files: [], commits: [] };
  }
}
