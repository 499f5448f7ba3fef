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
