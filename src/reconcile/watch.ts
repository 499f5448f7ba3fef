/**
 * What the daemon watches (chokidar): builds.yaml, the ports tree's git refs (HEAD, the
 * followed branch, packed-refs) and, in worktree mode, the port directories. Each watcher is a
 * directory watch narrowed by an `ignored` filter, so atomic replaces (git's lock-and-rename,
 * editors' save-by-rename) are seen and nothing else in .git is watched.
 */
import { watch, type FSWatcher } from 'chokidar';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { simpleGit } from 'simple-git';
import type { DesiredState } from '../config/types.js';

export interface Watching {
  /** Directories under watch, for the startup log and the benchmark. */
  watchedDirs(): number;
  close(): Promise<void>;
}

export type ChangeKind = 'config' | 'git' | 'tree';

/** The git directory of the work tree containing `dir`, or undefined when it is not in a git repo. */
export async function gitDirOf(dir: string): Promise<string | undefined> {
  try {
    const git = simpleGit({ baseDir: dir });
    const d = (await git.revparse(['--absolute-git-dir'])).trim();
    return d || undefined;
  } catch {
    // fall back to reading .git (a directory, or a `gitdir:` file in worktrees/submodules)
    const dotGit = join(dir, '.git');
    if (!existsSync(dotGit)) return undefined;
    if (statSync(dotGit).isDirectory()) return dotGit;
    const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, 'utf8'));
    return m ? resolve(dir, m[1]!.trim()) : undefined;
  }
}

function isUnder(path: string, dir: string): boolean {
  const r = relative(dir, path);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/** Accepts only `keep` paths (and the directories leading to them) below `root`. */
function onlyThese(root: string, keep: string[]): (path: string) => boolean {
  return (path) => {
    if (path === root) return false;
    return !keep.some((k) => k === path || isUnder(k, path) || isUnder(path, k));
  };
}

/** Port directories and their files; never work directories, .git, or portsync's own output. */
function treeFilter(tree: string, state: DesiredState): (path: string) => boolean {
  const { database, ...dirs } = state.paths;
  const outputs = Object.values(dirs).map((p) => resolve(p));
  return (path) => {
    if (path.startsWith(database)) return true; // the file, its .wal and .owner
    const name = basename(path);
    if (name === '.git' || name === 'work' || name.startsWith('work-') || name === 'node_modules') return true;
    const rel = relative(tree, path);
    if (rel === 'distfiles' || rel === 'packages' || rel.startsWith(`distfiles${sep}`) || rel.startsWith(`packages${sep}`)) return true;
    return outputs.some((o) => isUnder(path, o));
  };
}

export interface WatchOptions {
  onChange: (kind: ChangeKind, path: string) => void;
  log: (line: string) => void;
}

export async function startWatching(state: DesiredState, opts: WatchOptions): Promise<Watching> {
  const watchers: FSWatcher[] = [];
  const add = (kind: ChangeKind, paths: string | string[], options: Parameters<typeof watch>[1]) => {
    const w = watch(paths, { ignoreInitial: true, persistent: true, ...options });
    w.on('all', (_event, path) => opts.onChange(kind, path));
    w.on('error', (err) => opts.log(`watch (${kind}): ${(err as Error).message}`));
    watchers.push(w);
    return new Promise<void>((res) => w.once('ready', () => res()));
  };
  const ready: Promise<void>[] = [];
  const configDir = dirname(state.file);
  ready.push(add('config', configDir, { depth: 0, ignored: onlyThese(configDir, [state.file]) }));

  const tree = state.portsTree.path;
  const gitDir = await gitDirOf(tree);
  if (gitDir) {
    const branchRef = join(gitDir, 'refs', 'heads', ...state.portsTree.branch.split('/'));
    const keep = [join(gitDir, 'HEAD'), join(gitDir, 'packed-refs'), branchRef];
    ready.push(add('git', gitDir, { depth: 2 + state.portsTree.branch.split('/').length, ignored: onlyThese(gitDir, keep) }));
  } else {
    opts.log(`watch: ${tree} is not in a git repository; watching the files only`);
  }
  if (state.portsTree.source === 'worktree') {
    // tree/category/port/files/patch-*: deeper levels are port sources nobody edits in place.
    ready.push(add('tree', tree, { depth: 3, ignored: treeFilter(tree, state) }));
  }
  await Promise.all(ready);
  return {
    watchedDirs: () => watchers.reduce((n, w) => n + Object.keys(w.getWatched()).length, 0),
    close: async () => {
      await Promise.all(watchers.map((w) => w.close()));
    },
  };
}
