/**
 * The templates of `notify:` targets (commit-status url and body, every target's headers):
 * `{{name}}` is replaced by a value of the event, `{{env.NAME}}` by an environment variable.
 * Each place escapes what it inserts: a URL component-encodes it, a JSON body JSON-escapes it
 * (for use inside a string literal), a header turns line breaks into spaces.
 */
import { NotifyEnvError } from './errors.js';

/** The values an event offers to templates. */
export const TEMPLATE_VARS = ['commit', 'shortCommit', 'state', 'status', 'description', 'context', 'runId', 'trigger', 'target', 'event', 'config'] as const;
export type TemplateVar = (typeof TEMPLATE_VARS)[number];

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `text` is not a usable template (unknown placeholders), or undefined. */
export function templateProblem(text: string): string | undefined {
  const bad: string[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) {
    const name = m[1]!;
    if (name.startsWith('env.') ? !ENV_NAME.test(name.slice(4)) : !(TEMPLATE_VARS as readonly string[]).includes(name)) bad.push(`{{${name}}}`);
  }
  if (!bad.length) return undefined;
  return `unknown placeholder${bad.length > 1 ? 's' : ''} ${bad.join(', ')}; use ${TEMPLATE_VARS.map((v) => `{{${v}}}`).join(', ')} or {{env.NAME}}`;
}

export type Escape = (value: string) => string;

export const escapeFor: Record<'url' | 'json' | 'header' | 'none', Escape> = {
  url: encodeURIComponent,
  // Inside a JSON string literal: the JSON encoding without its quotes.
  json: (v) => JSON.stringify(v).slice(1, -1),
  header: (v) => v.replace(/[\r\n]+/g, ' '),
  none: (v) => v,
};

/** `text` with every placeholder replaced; throws NotifyEnvError for an unset {{env.NAME}}. */
export function renderTemplate(
  text: string,
  vars: Partial<Record<TemplateVar, string>>,
  escape: Escape,
  target: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return text.replace(PLACEHOLDER, (_, name: string) => {
    if (name.startsWith('env.')) {
      const value = env[name.slice(4)];
      if (value === undefined || value === '') throw new NotifyEnvError(target, name.slice(4), `read by {{${name}}}`);
      return escape(value);
    }
    return escape(vars[name as TemplateVar] ?? '');
  });
}
