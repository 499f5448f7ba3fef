/**
 * The templates of `notify:` targets (commit-status url and body, every target's headers):
 * `{{name}}` is replaced by a value of the event, `{{env.NAME}}` by an environment variable.
 * Each place escapes what it inserts: a URL component-encodes it, a JSON body JSON-escapes it
 * (for use inside a string literal), a header turns line breaks into spaces.
 */
import { NotifyEnvError } from './errors.js';
import { PLACEHOLDER, type TemplateVar } from '../config/template-syntax.js';

export type { TemplateVar };

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
