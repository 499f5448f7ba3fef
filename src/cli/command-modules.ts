/**
 * Every command by name, in the order `portsync --help` lists them, as a loader of its module:
 * the command line loads only the command it runs (a `plan` that prints its kept answer need not
 * load the build pool, the daemon or the database driver; start-up time is most of it).
 */
import { readFileSync } from 'node:fs';
import type { Command } from './command.js';

export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export const COMMAND_MODULES: Readonly<Record<string, () => Promise<Command>>> = {
  validate: async () => (await import('./validate.js')).validate,
  plan: async () => (await import('./plan.js')).plan,
  reconcile: async () => (await import('./reconcile.js')).reconcile,
  why: async () => (await import('./why.js')).why,
  status: async () => (await import('./status.js')).status,
  adopt: async () => (await import('./adopt.js')).adopt,
  suspend: async () => (await import('./suspend.js')).suspend,
  resume: async () => (await import('./suspend.js')).resume,
  history: async () => (await import('./history.js')).history,
  logs: async () => (await import('./logs.js')).logs,
  report: async () => (await import('./report.js')).report,
  sql: async () => (await import('./sql.js')).sql,
  fetch: async () => (await import('./fetch.js')).fetch,
  cleanup: async () => (await import('./cleanup.js')).cleanup,
  rollback: async () => (await import('./rollback.js')).rollback,
  watch: async () => (await import('./watch.js')).watch,
  trigger: async () => (await import('./trigger.js')).trigger,
  hook: async () => (await import('./hook.js')).hook,
  agent: async () => (await import('./agent.js')).agent,
  // The two commands that describe the others need them all.
  help: async () => (await import('./commands.js')).commands.help!,
  completion: async () => (await import('./commands.js')).commands.completion!,
};
