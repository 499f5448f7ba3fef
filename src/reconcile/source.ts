/**
 * Where a pass reads its desired state and its tree from.
 *  - `source: worktree`: builds.yaml and the tree as they are on disk.
 *  - `source: commit`: exactly the committed state of `branch` (its remote-tracking ref when the
 *    repository has a remote, so a push is what counts): builds.yaml as of that commit when it
 *    lives in the same repository, and the tree checked out into a checkout portsync owns under
 *    the build base (`git clone --shared`), never the user's working copy. Only files that
 *    changed between two commits are rewritten there, so unchanged ports keep their stat data
 *    and the metadata cache answers for them without reading them; the files git rewrote (and
 *    what `git clean` removed) are the pass's changed paths (ScanOptions.changed).
 */
import { existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { SimpleGit, SimpleGitOptions } from 'simple-git';
import { loadDesiredState, parseDesiredState } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import type { DesiredState } from '../config/types.js';
import { CommitSourceError } from './errors.js';

/** Absolute paths that may have changed, or 'all' (ScanOptions.changed). */
export type ChangedPaths = ReadonlySet<string> | 'all';

export interface PassSource {
  state: DesiredState;
  /** The tree to read and build from. */
  tree: string;
  /** The commit reconciled (commit mode), or undefined (the pass asks git for HEAD). */
  gitCommit?: string;
  /**
   * Commit mode: what moving portsync's checkout rewrote or removed since this process last
   * moved it (absolute paths), or 'all' (a new checkout, or git could not say).
   */
  changed?: ChangedPaths;
}

const inside = (dir: string, file: string) => {
  const rel = relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep) ? rel : undefined;
};

/** The commit `branch` points at: the remote-tracking ref when a remote has it, else the local branch. */
async function branchCommit(git: SimpleGit, repo: string, branch: string): Promise<string> {
  const remotes = await git.getRemotes();
  const refs = [...remotes.map((r) => `refs/remotes/${r.name}/${branch}`), `refs/heads/${branch}`];
  for (const ref of refs) {
    let sha = '';
    try {
      sha = (await git.raw(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim();
    } catch {
      // not there: try the next one
    }
    if (/^[0-9a-f]{40,64}$/.test(sha)) return sha;
  }
  throw new CommitSourceError(
    repo,
    `branch "${branch}" does not exist (looked for ${refs.join(', ')}); set portsTree.branch in builds.yaml`,
  );
}

/**
 * Files under `dir` (a work tree, or a directory in one) that differ between two commits, as
 * absolute paths; 'all' when git cannot say.
 */
/** simple-git, loaded when first needed: a worktree-mode command never is (it takes a twentieth of a second to load). */
const simpleGit = async (options: Partial<SimpleGitOptions> = {}): Promise<SimpleGit> => (await import('simple-git')).simpleGit(options);

export async function commitChanges(dir: string, from: string, to: string): Promise<ChangedPaths> {
  if (from === to) return new Set();
  try {
    const out = await (
      await simpleGit({ baseDir: dir })
    ).raw(['diff', '--name-only', '-z', '--no-renames', '--relative', from, to, '--', '.']);
    return new Set(
      out
        .split('\0')
        .filter(Boolean)
        .map((p) => join(dir, p)),
    );
  } catch {
    return 'all';
  }
}

/**
 * Updates portsync's own checkout of `repo` to `commit`; returns what that rewrote or removed.
 * The checkout is portsync's: nothing else edits it between passes (a full check each resync).
 */
async function checkout(repo: string, dir: string, commit: string): Promise<ChangedPaths> {
  let fresh = false;
  if (!existsSync(join(dir, '.git'))) {
    await (await simpleGit()).clone(repo, dir, ['--shared', '--no-checkout', '--quiet']);
    fresh = true;
  }
  const git = await simpleGit({ baseDir: dir });
  let before = '';
  if (!fresh) {
    try {
      before = (await git.raw(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])).trim();
    } catch {
      // no HEAD yet: everything is new
    }
  }
  // --shared borrows the objects of `repo`; a commit made there after the clone is reachable too.
  await git.raw(['checkout', '--quiet', '--force', '--detach', commit]);
  const cleaned = await git.raw(['-c', 'core.quotePath=false', 'clean', '-ffdx']);
  if (!before) return 'all';
  const changed = await commitChanges(dir, before, commit);
  if (changed === 'all') return 'all';
  const out = new Set(changed);
  for (const line of cleaned.split('\n')) {
    const m = /^Removing (.+?)\/?$/.exec(line);
    if (!m) continue;
    if (m[1]!.startsWith('"')) return 'all'; // a quoted name: not worth unquoting
    out.add(join(dir, m[1]!));
  }
  return out;
}

/** Re-points paths inside the user's tree (e.g. make.env MAKESYSPATH) at the checkout. */
function remapTree(state: DesiredState, from: string, to: string): DesiredState {
  const env = Object.fromEntries(
    Object.entries(state.make.env).map(([k, v]) => [k, v === from || v.startsWith(from + sep) ? to + v.slice(from.length) : v]),
  );
  return { ...state, make: { ...state.make, env } };
}

export async function resolvePassSource(configFile: string): Promise<PassSource> {
  return sourceFor(await loadDesiredState(configFile));
}

/** The pass source for a desired state read from disk (commit mode: re-read from the commit). */
export async function sourceFor(disk: DesiredState): Promise<PassSource> {
  if (disk.portsTree.source !== 'commit') return { state: disk, tree: disk.portsTree.path };
  const userTree = disk.portsTree.path;
  let repo: string;
  try {
    repo = (await (await simpleGit({ baseDir: userTree })).revparse(['--show-toplevel'])).trim();
  } catch (e) {
    throw new CommitSourceError(
      userTree,
      'portsTree.source is "commit" but the ports tree is not in a git repository; use source: worktree or git init it',
      { cause: e },
    );
  }
  const git = await simpleGit({ baseDir: repo });
  const commit = await branchCommit(git, repo, disk.portsTree.branch);
  let state = disk;
  const configRel = inside(repo, disk.file);
  if (configRel) {
    let text: string;
    try {
      text = await git.show([`${commit}:${configRel.split(sep).join('/')}`]);
    } catch (e) {
      throw new ConfigError(
        disk.file,
        [
          {
            file: disk.file,
            line: 1,
            col: 1,
            message: `not in commit ${commit.slice(0, 12)} of ${repo}: commit builds.yaml, or use source: worktree`,
          },
        ],
        { cause: e },
      );
    }
    state = parseDesiredState(text, disk.file);
  }
  const treeRel = relative(repo, state.portsTree.path);
  if (treeRel.startsWith('..'))
    throw new CommitSourceError(repo, `portsTree.path ${state.portsTree.path} is outside the repository of the committed builds.yaml`);
  const checkoutDir = join(state.paths.buildBase, 'checkout');
  let changed: ChangedPaths;
  try {
    changed = await checkout(repo, checkoutDir, commit);
  } catch (e) {
    throw new CommitSourceError(repo, `cannot check out ${commit.slice(0, 12)} into ${checkoutDir}: ${(e as Error).message}`, {
      cause: e,
      transient: true,
    });
  }
  const tree = join(checkoutDir, treeRel);
  if (!existsSync(tree)) throw new CommitSourceError(repo, `commit ${commit.slice(0, 12)} has no ${treeRel || '.'} (portsTree.path)`);
  return { state: remapTree(state, state.portsTree.path, tree), tree, gitCommit: commit, changed };
}
