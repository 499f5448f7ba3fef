/**
 * `portsync hook install --repo DIR [--hook post-receive|post-commit|post-merge] [--force]`:
 * writes a git hook that runs `portsync trigger`, with this node and this checkout of portsync,
 * so it works without a global install.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleGit } from 'simple-git';
import { ForeignHookError } from '../server/errors.js';
import { defineCommand } from './command.js';

const HOOKS = ['post-receive', 'post-commit', 'post-merge'] as const;
const MARKER = '# installed by portsync hook install';
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/portsync.js');

function shellQuote(s: string): string {
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export function hookScript(configFile: string, hook: string): string {
  const cmd = [process.execPath, BIN, '--config', resolve(configFile), 'trigger', '--reason', `git ${hook}`].map(shellQuote).join(' ');
  return `#!/bin/sh\n${MARKER}: asks the portsync daemon for a reconcile pass\nexec ${cmd}\n`;
}

/** The hooks directory of a repository (bare or not; honours core.hooksPath). */
async function hooksDir(repo: string, usageError: (detail: string, option: string) => Error): Promise<string> {
  if (!existsSync(repo)) throw usageError(`--repo ${repo} does not exist`, '--repo');
  try {
    const git = simpleGit({ baseDir: repo });
    return resolve(repo, (await git.revparse(['--git-path', 'hooks'])).trim());
  } catch (err) {
    throw usageError(`--repo ${repo} is not a git repository: ${(err as Error).message.trim()}`, '--repo');
  }
}

export const hook = defineCommand({
  name: 'hook',
  summary: 'install a git hook that asks the daemon for a pass',
  args: [{ name: 'SUBCOMMAND', choices: ['install'], description: 'install: write the hook (the only subcommand)' }],
  options: {
    repo: {
      value: 'DIR',
      kind: 'directory',
      required: true,
      description: 'the git repository (bare or not) whose hook to install; core.hooksPath is honoured',
    },
    hook: {
      value: 'HOOK',
      choices: HOOKS,
      description: 'which hook (default post-receive: a repository you push to; post-commit for a local one)',
    },
    force: { description: 'replace a hook of that name that portsync did not write' },
  },
  description: `Writes a one-line hook into the repository that runs portsync trigger for this builds.yaml (with this node and this checkout of portsync, so it works without a global install): every push (post-receive), commit (post-commit) or merge (post-merge) then asks the running daemon for a pass. A hook portsync wrote before is replaced; any other is kept unless --force.`,
  exits: [
    ['0', 'installed'],
    ['2', 'bad usage, not a git repository, or a hook portsync did not write is in the way'],
  ],
  examples: [['portsync hook install --repo /srv/git/ports.git', 'a push to that repository triggers a pass']],
  async run(ctx, { values, usageError }) {
    const hook = values.hook ?? 'post-receive';
    const dir = await hooksDir(resolve(values.repo!), usageError);
    const file = join(dir, hook);
    if (existsSync(file) && !values.force && !readFileSync(file, 'utf8').includes(MARKER)) throw new ForeignHookError(file);
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, hookScript(ctx.configFile, hook));
    chmodSync(file, 0o755);
    ctx.io.out(`installed ${file}: runs portsync trigger for ${resolve(ctx.configFile)}`);
    return 0;
  },
});
