/**
 * Sending one notification: an HTTP(S) request with a time limit, retried with exponential
 * backoff on what may pass (a network error, no answer in time, 408, 429, 5xx; a Retry-After is
 * honoured up to the cap) and given up on what will not (any other 4xx). Deliveries to one
 * target go out in order, one at a time — a commit's "pending" never lands after its result.
 * Nothing here throws: every failure is logged with its target and what to do.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { NotifyTarget } from '../config/types.js';
import { inBackground, sleep } from './background.js';
import { DeliveryError } from './errors.js';

export interface OutgoingRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

export interface Answer {
  status: number;
  /** The start of the answer's body, for the log. */
  text: string;
  retryAfterMs?: number;
}

/** The longest wait between two attempts. */
export const MAX_RETRY_DELAY_MS = 5 * 60_000;
const ANSWER_BYTES = 2048;

/** Retry-After: seconds, or an HTTP date. */
function retryAfter(res: IncomingMessage): number | undefined {
  const v = res.headers['retry-after'];
  if (typeof v !== 'string') return undefined;
  const ms = /^\d+$/.test(v.trim()) ? Number(v) * 1000 : Date.parse(v) - Date.now();
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** One attempt: resolves with the answer, rejects on a network error or no answer within timeoutMs. */
export function sendOnce(req: OutgoingRequest, timeoutMs: number, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(req.url);
    const body = Buffer.from(req.body);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    // No keep-alive: a CLI process is not held open by an idle connection after its last delivery.
    const r = send(
      url,
      { method: req.method, headers: { ...req.headers, 'content-length': String(body.length) }, agent: false, signal },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < ANSWER_BYTES) chunks.push(c);
          size += c.length;
        });
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          const ra = retryAfter(res);
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8').slice(0, ANSWER_BYTES).trim(),
            ...(ra !== undefined ? { retryAfterMs: ra } : {}),
          });
        });
      },
    );
    const timer = setTimeout(() => r.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)), timeoutMs);
    r.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    r.end(body);
  });
}

const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

/** `HTTP 503 (Service Unavailable): <body start>` */
function describeAnswer(a: Answer): string {
  const text = a.text.replace(/\s+/g, ' ').slice(0, 200);
  return `HTTP ${a.status}${text ? `: ${text}` : ''}`;
}

/**
 * Delivers `build()`'s request to `target`, retrying as the file comment says; logs the outcome
 * when it is not a first-time success. `build` may throw (an unset environment variable): logged,
 * not retried.
 */
export async function deliver(
  target: NotifyTarget,
  event: string,
  build: () => OutgoingRequest,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<void> {
  let req: OutgoingRequest;
  try {
    req = build();
  } catch (err) {
    log(`warning: ${(err as Error).message}`);
    return;
  }
  const attempts = target.retries + 1;
  let lastError = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let wait: number | undefined;
    try {
      const answer = await sendOnce(req, target.timeoutMs, signal);
      if (answer.status >= 200 && answer.status < 300) {
        if (attempt > 1) log(`notify target ${target.name}: ${event} delivered at attempt ${attempt}`);
        return;
      }
      lastError = describeAnswer(answer);
      if (!retryable(answer.status)) {
        log(`warning: ${new DeliveryError(target.name, event, attempt, lastError, true).message}`);
        return;
      }
      wait = answer.retryAfterMs;
    } catch (err) {
      if (signal.aborted) {
        log(`warning: notify target ${target.name}: ${event} abandoned: portsync is stopping`);
        return;
      }
      lastError = (err as Error).message;
    }
    if (attempt === attempts) break;
    const backoff = Math.min(MAX_RETRY_DELAY_MS, target.retryDelayMs * 2 ** (attempt - 1));
    const delay = Math.min(MAX_RETRY_DELAY_MS, Math.max(backoff, wait ?? 0));
    log(
      `notify target ${target.name}: ${event} attempt ${attempt} of ${attempts} failed (${lastError}); retrying in ${(delay / 1000).toFixed(1)}s`,
    );
    try {
      await sleep(delay, signal);
    } catch {
      log(`warning: notify target ${target.name}: ${event} abandoned: portsync is stopping`);
      return;
    }
  }
  log(`warning: ${new DeliveryError(target.name, event, attempts, lastError, false).message}`);
}

/** The last delivery queued for each target (by builds.yaml and name): the next one waits for it. */
const queues = new Map<string, Promise<void>>();

/** Queues a delivery to `target` behind the ones before it, in the background. */
export function enqueueDelivery(
  key: string,
  target: NotifyTarget,
  event: string,
  build: () => OutgoingRequest,
  log: (line: string) => void,
): void {
  const before = queues.get(key) ?? Promise.resolve();
  let finished!: () => void;
  const mine = new Promise<void>((r) => (finished = r));
  queues.set(key, mine);
  inBackground(async (signal) => {
    try {
      await before;
      await deliver(target, event, build, log, signal);
    } finally {
      finished();
      if (queues.get(key) === mine) queues.delete(key);
    }
  });
}
