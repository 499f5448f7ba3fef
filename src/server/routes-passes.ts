/** Routes that ask for passes: POST /reconcile, POST /trigger, POST /hooks/git. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { reconcileJson } from '../reconcile/result-json.js';
import type { PassTrigger } from '../reconcile/loop.js';
import type { DaemonContext } from './context.js';
import { BadRequestError } from './errors.js';
import { parseJsonObject, readBody, sendJson } from './http.js';
import { streamPass } from './passStream.js';
import { verifySignature } from '../signature.js';

function stringList(v: unknown, route: string, field: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new BadRequestError(route, `${field} must be an array of origins`);
  return v as string[];
}

export async function postReconcile(ctx: DaemonContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = parseJsonObject(await readBody(req), '/reconcile');
  const force = stringList(body.force, '/reconcile', 'force');
  const busy = ctx.loop.status().current !== null;
  const pass = ctx.loop.requestPass('manual', force.length ? `reconcile --force ${force.join(' ')}` : 'reconcile requested', { force });
  if (body.wait !== true) return sendJson(res, 202, { accepted: true });
  if (body.stream === true) return streamPass(ctx, res, pass, busy);
  sendJson(res, 200, reconcileJson(await pass));
}

const TRIGGER_KINDS: readonly PassTrigger[] = ['manual', 'git-push'];

export async function postTrigger(ctx: DaemonContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = parseJsonObject(await readBody(req), '/trigger');
  const reason = typeof body.reason === 'string' && body.reason ? body.reason.slice(0, 200) : 'portsync trigger';
  let kind: PassTrigger;
  if (body.kind === undefined) kind = /^git\b/.test(reason) ? 'git-push' : 'manual';
  else if (TRIGGER_KINDS.includes(body.kind as PassTrigger)) kind = body.kind as PassTrigger;
  else throw new BadRequestError('/trigger', `kind must be one of ${TRIGGER_KINDS.join(', ')}`);
  void ctx.loop.requestPass(kind, reason);
  sendJson(res, 202, { accepted: true, trigger: kind });
}

export async function postGitHook(ctx: DaemonContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const remote = req.socket.remoteAddress ?? 'unix';
  const envName = ctx.loop.state.server.webhookSecretEnv;
  const secret = process.env[envName];
  // With a secret, only requests that fail verification spend tokens: a valid signed push is never
  // refused because someone else (even at the same address) sent garbage.
  if (!secret && !ctx.hookLimiter.take(remote)) {
    ctx.log(`webhook from ${remote}: rate limited`);
    return sendJson(res, 429, { error: 'too many webhook requests; try again later' });
  }
  const raw = await readBody(req);
  if (secret && !verifySignature(secret, raw, req.headers['x-hub-signature-256'])) {
    if (!ctx.hookLimiter.take(remote)) return sendJson(res, 429, { error: 'too many failed webhook requests; try again later' });
    ctx.log(`webhook from ${remote}: ${req.headers['x-hub-signature-256'] ? 'bad' : 'missing'} signature, ignored`);
    return sendJson(res, 401, { error: 'bad or missing X-Hub-Signature-256' });
  }
  // The payload is only a hint (git decides what changed); name the ref in the log when there is one.
  let ref = '';
  try {
    const p = JSON.parse(raw.toString('utf8')) as { ref?: unknown };
    if (typeof p?.ref === 'string') ref = ` ${p.ref}`;
  } catch {
    // not JSON: fine
  }
  void ctx.loop.requestPass('webhook', `push notification${ref} from ${remote}`);
  sendJson(res, 202, { accepted: true });
}
