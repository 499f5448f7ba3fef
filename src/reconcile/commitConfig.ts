/**
 * Committing an edit of builds.yaml (portsync suspend / resume in commit mode, as `flux suspend`
 * is followed by a commit in GitOps repositories): only that file, on the branch portsync
 * follows, with a message that says what and why. Refused before the edit when it could not be
 * committed cleanly.
 */
import { dirname, relative } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { PortsyncError } from '../errors.js';

/** builds.yaml cannot be committed as it stands (not in a repository, other changes in it, another branch checked out). */
export class ConfigCommitError extends PortsyncError {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`cannot commit ${file}: ${detail}`);
  }
}

export interface ConfigRepository {
  git: SimpleGit;
  /** builds.yaml's path in the repository. */
  path: string;
}

/**
 * The repository builds.yaml is committed in, checked before it is edited: on `branch`, with no
 * uncommitted change to builds.yaml (it would be committed with the edit). Null when builds.yaml
 * is in no repository.
 */
export async function configRepository(file: string, branch: string): Promise<ConfigRepository | null> {
  const git = simpleGit({ baseDir: dirname(file) });
  let top: string;
  try {
    top = (await git.revparse(['--show-toplevel'])).trim();
  } catch {
    return null;
  }
  const path = relative(top, file);
  const repo = simpleGit({ baseDir: top });
  const head = (await repo.raw(['symbolic-ref', '--quiet', '--short', 'HEAD']).catch(() => '')).trim();
  if (head !== branch) {
    throw new ConfigCommitError(
      file,
      `the repository ${top} has ${head ? `branch ${head}` : 'a detached HEAD'} checked out, not ${branch} (portsTree.branch, the branch portsync follows); check out ${branch} first`,
    );
  }
  const dirty = (await repo.raw(['status', '--porcelain', '--', path])).trim();
  if (dirty)
    throw new ConfigCommitError(
      file,
      `it has changes that are not committed (git status: ${dirty.split('\n')[0]}); commit or discard them first, so that the commit holds this change alone`,
    );
  return { git: repo, path };
}

/** Commits builds.yaml alone; returns the new commit. A repository without a user identity commits as portsync. */
export async function commitConfig(repo: ConfigRepository, subject: string, body: string): Promise<string> {
  const named = (await repo.git.raw(['config', 'user.email']).catch(() => '')).trim() !== '';
  const git = named
    ? repo.git
    : repo.git.env({
        ...process.env,
        GIT_AUTHOR_NAME: 'portsync',
        GIT_AUTHOR_EMAIL: 'portsync@localhost',
        GIT_COMMITTER_NAME: 'portsync',
        GIT_COMMITTER_EMAIL: 'portsync@localhost',
      });
  await git.raw(['commit', '--quiet', '-m', subject, '-m', body, '--', repo.path]);
  return (await git.revparse(['HEAD'])).trim();
}
