/**
 * `portsync hook install --repo DIR [--hook post-receive|post-commit|post-merge] [--force]`:
 * writes a git hook that runs `portsync trigger`, with this node and this checkout of portsync,
 * so it works without a global install.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { simpleGit } from 'simple-git';
import { PortsyncError } from '../errors.js';
import { ForeignHookError } from '../server/errors.js';
import type { CommandContext } from './commands.js';

const HOOKS = ['post-receive', 'post-commit', 'post-merge'] as const;
const MARKER = '# installed by portsync hook install';
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/portsync.js');

/** `hook` was called wrongly, or the directory is not a git repository. */
export class HookUsageError extends PortsyncError {
  constructor(readonly what: string, detail: string) {
    super(`${detail}\nusage: portsync hook install --repo DIR [--hook ${HOOKS.join('|')}] [--force]`);
  }
}

function shellQuote(s: string): string {
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export function hookScript(configFile: string, hook: string): string {
  const cmd = [process.execPath, BIN, '--config', resolve(configFile), 'trigger', '--reason', `git ${hook}`].map(shellQuote).join(' ');
  return `#!/bin/sh\n${MARKER}: asks the portsync daemon for a reconcile pass\nexec ${cmd}\n`;
}

/** The hooks directory of a repository (bare or not; honours core.hooksPath). */
async function hooksDir(repo: string): Promise<string> {
  if (!existsSync(repo)) throw new HookUsageError(repo, `--repo ${repo} does not exist`);
  try {
    const git = simpleGit({ baseDir: repo });
    return resolve(repo, (await git.revparse(['--git-path', 'hooks'])).trim());
  } catch (err) {
    throw new HookUsageError(repo, `${repo} is not a git repository: ${(err as Error).message.trim()}`);
  }
}

export async function runHook(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: ctx.argv,
    options: { repo: { type: 'string' }, hook: { type: 'string' }, force: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (positionals[0] !== 'install' || positionals.length !== 1) throw new HookUsageError('subcommand', `unknown hook subcommand "${positionals.join(' ')}"`);
  if (!values.repo) throw new HookUsageError('repo', '--repo DIR is required');
  const hook = values.hook ?? 'post-receive';
  if (!(HOOKS as readonly string[]).includes(hook)) throw new HookUsageError('hook', `--hook must be one of ${HOOKS.join(', ')}, got "${hook}"`);
  const dir = await hooksDir(resolve(values.repo));
  const file = join(dir, hook);
  if (existsSync(file) && !values.force && !readFileSync(file, 'utf8').includes(MARKER)) throw new ForeignHookError(file);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, hookScript(ctx.configFile, hook));
  chmodSync(file, 0o755);
  ctx.io.out(`installed ${file}: runs portsync trigger for ${resolve(ctx.configFile)}`);
  return 0;
}
