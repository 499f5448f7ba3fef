/**
 * What each kind of `notify:` target is sent, like Flux's notification-controller providers:
 *
 * - generic: a JSON document of the event (run-start, run-end or port-failure) with the run, its
 *   counts and the failed ports; with `secretEnv`, signed: `X-Signature` (Flux's generic-hmac)
 *   and `X-Hub-Signature-256` (GitHub's form, which portsync's own /hooks/git checks), both
 *   `sha256=<hex HMAC-SHA256 of the body>`.
 * - slack: a Slack incoming-webhook message (text and a coloured attachment), which Mattermost,
 *   Rocket.Chat and Discord's /slack endpoint take too.
 * - commit-status: the status of the reconciled commit, as the target's url, headers and body
 *   templates say (GitHub, Gitea and Forgejo by default; GitLab through its own url and states).
 */
import { hostname } from 'node:os';
import type { PortOutcome } from '../builder/outcomes.js';
import type { NotifyEvent, NotifyTarget } from '../config/types.js';
import type { PassResult } from '../reconcile/passResult.js';
import type { RunInfo } from '../reconcile/observers.js';
import { shortId } from '../builddb/ids.js';
import { signBody } from '../signature.js';
import type { OutgoingRequest } from './deliver.js';
import { NotifyEnvError } from './errors.js';
import { escapeFor, renderTemplate, type TemplateVar } from './template.js';

export type EventData =
  | { event: 'run-start'; run: RunInfo }
  | { event: 'run-end'; run: RunInfo; result: PassResult }
  | { event: 'port-failure'; run: RunInfo; port: PortOutcome };

/** Failed ports listed in one run-end message; the rest are counted. */
const MAX_LISTED = 50;

/** "3 built, 1 failed, 10 up to date, 2 ignored, 0 blocked in 12.3s" */
export function countsLine(result: PassResult): string {
  const s = result.stats;
  return `${s.success} built, ${s.failed} failed, ${s.skipped} up to date, ${s.ignored} ignored, ${s.blocked} blocked${s.interrupted ? `, ${s.interrupted} interrupted` : ''} in ${(s.durationMs / 1000).toFixed(1)}s`;
}

const short = (commit: string | null) => (commit ? commit.slice(0, 12) : '');
const runName = (run: RunInfo) => `run ${shortId(run.runId)} (${run.trigger}${run.gitCommit ? `, ${short(run.gitCommit)}` : ''})`;

/** One sentence for people. */
export function describeEvent(e: EventData): string {
  switch (e.event) {
    case 'run-start': {
      const s = e.run.plan.summary;
      return `portsync ${runName(e.run)} started: ${s.build} to build, ${s.pending} pending, ${s.skip} up to date`;
    }
    case 'run-end':
      return `portsync ${runName(e.run)} ${e.result.status}: ${countsLine(e.result)}`;
    case 'port-failure':
      return `portsync: ${e.port.origin} (${e.port.pkgname}) failed${e.port.lastPhase ? ` in ${e.port.lastPhase}` : ''}: ${e.port.error ?? e.port.reason}`;
  }
}

const severity = (e: EventData): 'info' | 'error' =>
  e.event === 'port-failure' || (e.event === 'run-end' && e.result.status !== 'success') ? 'error' : 'info';

function portJson(p: PortOutcome) {
  return {
    origin: p.origin,
    pkgname: p.pkgname,
    version: p.version,
    status: p.status,
    reason: p.reason,
    ...(p.buildId ? { buildId: p.buildId } : {}),
    ...(p.lastPhase ? { lastPhase: p.lastPhase } : {}),
    ...(p.error ? { error: p.error } : {}),
    ...(p.durationMs !== undefined ? { durationMs: p.durationMs } : {}),
    ...(p.logPath ? { log: p.logPath } : {}),
  };
}

/** The generic target's document. */
export function genericPayload(e: EventData) {
  const { run } = e;
  const failed = e.event === 'run-end' ? e.result.ports.filter((p) => p.status === 'failed') : [];
  return {
    source: 'portsync',
    event: e.event,
    severity: severity(e),
    message: describeEvent(e),
    timestamp: new Date().toISOString(),
    host: hostname(),
    config: run.state.file,
    run: {
      runId: run.runId,
      trigger: run.trigger,
      gitCommit: run.gitCommit,
      startedAt: run.startedAt.toISOString(),
      ...(e.event === 'run-start' ? { toBuild: run.plan.summary.build, pending: run.plan.summary.pending } : {}),
      ...(e.event === 'run-end'
        ? {
            status: e.result.status,
            stats: e.result.stats,
            failed: failed.slice(0, MAX_LISTED).map(portJson),
            ...(failed.length > MAX_LISTED ? { failedNotListed: failed.length - MAX_LISTED } : {}),
          }
        : {}),
    },
    ...(e.event === 'port-failure' ? { port: portJson(e.port) } : {}),
  };
}

/** Slack's mrkdwn needs &, < and > escaped. */
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function slackPayload(e: EventData, target: NotifyTarget) {
  const sev = severity(e);
  const color = sev === 'error' ? 'danger' : e.event === 'run-start' ? '#439FE0' : 'good';
  const fields: { title: string; value: string; short: boolean }[] = [];
  if (e.run.gitCommit) fields.push({ title: 'commit', value: short(e.run.gitCommit), short: true });
  fields.push({ title: 'trigger', value: e.run.trigger, short: true });
  let detail = '';
  if (e.event === 'run-end') {
    const failed = e.result.ports.filter((p) => p.status === 'failed');
    detail = failed
      .slice(0, 10)
      .map((p) => `• ${p.origin}${p.lastPhase ? ` (${p.lastPhase})` : ''}: ${p.error ?? p.reason}`)
      .join('\n');
    if (failed.length > 10) detail += `\n… and ${failed.length - 10} more`;
  } else if (e.event === 'port-failure' && e.port.logPath) {
    fields.push({ title: 'log', value: e.port.logPath, short: false });
  }
  return {
    text: slackEscape(describeEvent(e)),
    ...(target.channel ? { channel: target.channel } : {}),
    ...(target.username ? { username: target.username } : {}),
    attachments: [
      {
        color,
        fallback: slackEscape(describeEvent(e)),
        ...(detail ? { text: slackEscape(detail) } : {}),
        fields: fields.map((f) => ({ ...f, value: slackEscape(f.value) })),
        footer: `portsync on ${hostname()}`,
        ts: Math.floor(Date.now() / 1000),
      },
    ],
  };
}

/** The portsync status a commit-status event reports: pending at the start, the run's status at the end. */
function statusWord(e: EventData): 'pending' | PassResult['status'] {
  return e.event === 'run-end' ? e.result.status : 'pending';
}

/** GitHub allows 140 characters of description. */
const DESCRIPTION_MAX = 140;

export function templateVars(e: EventData, target: NotifyTarget): Record<TemplateVar, string> {
  const status = statusWord(e);
  const description = e.event === 'run-end' ? `${e.result.status}: ${countsLine(e.result)}` : describeEvent(e).replace(/^portsync /, '');
  return {
    commit: e.run.gitCommit ?? '',
    shortCommit: short(e.run.gitCommit),
    state: target.states[status],
    status,
    description: description.length > DESCRIPTION_MAX ? `${description.slice(0, DESCRIPTION_MAX - 1)}…` : description,
    context: target.context,
    runId: e.run.runId,
    trigger: e.run.trigger,
    target: target.name,
    event: e.event,
    config: e.run.state.file,
  };
}

/** The request `target` is sent for `e`; throws NotifyEnvError when an environment variable it needs is unset. */
export function requestFor(target: NotifyTarget, e: EventData, env: NodeJS.ProcessEnv = process.env): OutgoingRequest {
  const vars = templateVars(e, target);
  let url = target.url ?? '';
  if (target.urlEnv) {
    const v = env[target.urlEnv];
    if (!v) throw new NotifyEnvError(target.name, target.urlEnv, 'its urlEnv: the address to send to');
    url = v;
  }
  // A commit status's address names the commit: {{commit}} and the like are filled in.
  if (target.type === 'commit-status') url = renderTemplate(url, vars, escapeFor.url, target.name, env);
  const body =
    target.type === 'generic'
      ? JSON.stringify(genericPayload(e))
      : target.type === 'slack'
        ? JSON.stringify(slackPayload(e, target))
        : renderTemplate(target.body!, vars, escapeFor.json, target.name, env);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'portsync', 'x-portsync-event': e.event };
  for (const [name, value] of Object.entries(target.headers))
    headers[name.toLowerCase()] = renderTemplate(value, vars, escapeFor.header, target.name, env);
  if (target.secretEnv) {
    const secret = env[target.secretEnv];
    if (!secret) throw new NotifyEnvError(target.name, target.secretEnv, 'its secretEnv: the key that signs each body');
    const signature = signBody(secret, body);
    headers['x-signature'] = signature;
    headers['x-hub-signature-256'] = signature;
  }
  return { url, method: target.method, headers, body };
}

/** Whether `target` takes events of this kind. */
export const wants = (target: NotifyTarget, event: NotifyEvent) => target.events.includes(event);
