/**
 * builds.yaml's `hooks:` and `notify:` blocks: from what the schema let through (its defaults
 * filled in) to the desired state, and the checks a JSON Schema cannot express.
 */
import { resolve } from 'node:path';
import { DurationError } from './errors.js';
import { parseDuration } from './duration.js';
import { describePath } from './schema.js';
import { HOOK_NAMES, type HooksConfig, type NotifyEvent, type NotifyTarget, type NotifyType } from './types.js';
import type { ConfigPath, YamlLocator } from './yaml-locator.js';
import { templateProblem } from './template-syntax.js';

/** `hooks:` as written, the schema's defaults filled in. */
export type RawHooks = { timeout: string | number } & Partial<Record<(typeof HOOK_NAMES)[number], string>>;

/** One `notify:` entry as written, the schema's defaults filled in. */
export interface RawNotifyTarget {
  name: string;
  type: NotifyType;
  url?: string;
  urlEnv?: string;
  secretEnv?: string;
  events?: NotifyEvent[];
  method: NotifyTarget['method'];
  headers: Record<string, string>;
  body?: string;
  states: NotifyTarget['states'];
  context: string;
  channel?: string;
  username?: string;
  timeout: string | number;
  retries: number;
  retryDelay: string | number;
}

/** What each type sends when `events` is not given. */
export const DEFAULT_EVENTS: Record<NotifyType, NotifyEvent[]> = {
  generic: ['run-end', 'port-failure'],
  slack: ['run-end', 'port-failure'],
  'commit-status': ['run-start', 'run-end'],
};

/** GitHub's (and Gitea's, Forgejo's) commit status body. */
export const DEFAULT_STATUS_BODY = '{"state":"{{state}}","context":"{{context}}","description":"{{description}}"}';

export function hooksOf(raw: RawHooks, dir: string): HooksConfig {
  const commands: HooksConfig['commands'] = {};
  for (const name of HOOK_NAMES) {
    const program = raw[name];
    if (program !== undefined) commands[name] = resolve(dir, program);
  }
  return { commands, timeoutMs: parseDuration(raw.timeout) };
}

export function notifyTargetsOf(raw: readonly RawNotifyTarget[], locator: YamlLocator): NotifyTarget[] {
  return raw.map((t, i) => ({
    name: t.name,
    type: t.type,
    ...(t.url !== undefined ? { url: t.url } : {}),
    ...(t.urlEnv !== undefined ? { urlEnv: t.urlEnv } : {}),
    ...(t.secretEnv !== undefined ? { secretEnv: t.secretEnv } : {}),
    events: t.events ?? DEFAULT_EVENTS[t.type],
    method: t.method,
    headers: { ...t.headers },
    ...(t.type === 'commit-status' ? { body: t.body ?? DEFAULT_STATUS_BODY } : {}),
    states: { ...t.states },
    context: t.context,
    ...(t.channel !== undefined ? { channel: t.channel } : {}),
    ...(t.username !== undefined ? { username: t.username } : {}),
    timeoutMs: parseDuration(t.timeout),
    retries: t.retries,
    retryDelayMs: parseDuration(t.retryDelay),
    ...locator.valuePos(['notify', i]),
  }));
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
/** Headers portsync sets itself. */
const OWN_HEADERS = new Set(['content-type', 'content-length', 'host', 'x-signature', 'x-hub-signature-256', 'user-agent']);

/**
 * The checks of `hooks:` and `notify:` the schema cannot make. Tolerates data the schema already
 * rejected (`isFlagged`); each problem goes to `issueAt` at its place.
 */
export function hooksNotifyProblems(
  data: Record<string, unknown>,
  fileName: string,
  issueAt: (path: ConfigPath, message: string) => void,
  isFlagged: (path: ConfigPath) => boolean,
): void {
  const positive = (path: ConfigPath, value: unknown) => {
    if ((typeof value !== 'string' && typeof value !== 'number') || isFlagged(path)) return;
    const where = describePath(path, fileName);
    try {
      if (parseDuration(value) === 0) issueAt(path, `${where} must be more than zero`);
    } catch (e) {
      if (!(e instanceof DurationError)) throw e;
      issueAt(path, `${where}: ${e.message}`);
    }
  };
  if (isRecord(data.hooks)) positive(['hooks', 'timeout'], data.hooks.timeout);

  const targets = Array.isArray(data.notify) ? (data.notify as unknown[]) : [];
  const names = new Map<string, number>();
  targets.forEach((t, i) => {
    if (!isRecord(t)) return;
    const at = (...rest: (string | number)[]): ConfigPath => ['notify', i, ...rest];
    const where = (...rest: (string | number)[]) => describePath(at(...rest), fileName);
    const type = t.type as NotifyType | undefined;
    if (typeof t.name === 'string') {
      const first = names.get(t.name);
      if (first !== undefined) issueAt(at('name'), `${where('name')}: duplicate notify target "${t.name}" (also notify[${first}])`);
      else names.set(t.name, i);
    }
    if (t.url === undefined && t.urlEnv === undefined)
      issueAt(at(), `${where()}: give url (the address) or urlEnv (the environment variable holding it)`);
    if (t.url !== undefined && t.urlEnv !== undefined) issueAt(at('urlEnv'), `${where('urlEnv')}: give url or urlEnv, not both`);
    if (typeof t.url === 'string' && !isFlagged(at('url'))) {
      const problem = type === 'commit-status' ? templateProblem(t.url) : undefined;
      if (problem) issueAt(at('url'), `${where('url')}: ${problem}`);
      else {
        // Placeholders stand for values; what is left must be an http(s) address.
        const sample = t.url.replace(/\{\{[^}]*\}\}/g, 'x');
        let protocol: string | undefined;
        try {
          protocol = new URL(sample).protocol;
        } catch {
          issueAt(at('url'), `${where('url')}: ${JSON.stringify(t.url)} is not a URL; write it as http://host/path or https://host/path`);
        }
        if (protocol && protocol !== 'http:' && protocol !== 'https:')
          issueAt(at('url'), `${where('url')}: ${protocol.slice(0, -1)} is not http or https`);
        else if (protocol && type !== 'commit-status' && sample !== t.url)
          issueAt(at('url'), `${where('url')}: only a commit-status url is a template; a ${type} url is sent as written`);
      }
    }
    if (type !== 'commit-status') {
      if (t.body !== undefined)
        issueAt(at('body'), `${where('body')}: only a commit-status target takes a body (a ${type} target sends its own JSON)`);
    } else {
      if (Array.isArray(t.events) && t.events.includes('port-failure')) {
        issueAt(at('events'), `${where('events')}: a commit status belongs to the commit, not to a port: use run-start and run-end`);
      }
      if (typeof t.body === 'string' && !isFlagged(at('body'))) {
        const problem = templateProblem(t.body);
        if (problem) issueAt(at('body'), `${where('body')}: ${problem}`);
      }
    }
    if (type !== 'slack') {
      for (const key of ['channel', 'username'])
        if (t[key] !== undefined) issueAt(at(key), `${where(key)}: only a slack target takes ${key}`);
    }
    if (isRecord(t.headers)) {
      for (const [name, value] of Object.entries(t.headers)) {
        if (!HEADER_NAME.test(name)) issueAt(at('headers', name), `${where('headers')}: "${name}" is not an HTTP header name`);
        else if (OWN_HEADERS.has(name.toLowerCase()))
          issueAt(at('headers', name), `${where('headers', name)}: portsync sets ${name} itself`);
        else if (typeof value === 'string') {
          const problem = /[\r\n]/.test(value) ? 'a header value cannot span lines' : templateProblem(value);
          if (problem) issueAt(at('headers', name), `${where('headers', name)}: ${problem}`);
        }
      }
    }
    positive(at('timeout'), t.timeout);
  });
}
