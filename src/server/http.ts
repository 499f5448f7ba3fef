/** Small node:http helpers: capped bodies, JSON answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PortsyncError } from '../errors.js';
import { BadRequestError, BodyTooLargeError } from './errors.js';

export const MAX_BODY_BYTES = 1024 * 1024;

/** The raw body, refusing (BodyTooLargeError) as soon as it exceeds `limit`. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A JSON object body; an empty body is `{}`. */
export function parseJsonObject(raw: Buffer, route: string): Record<string, unknown> {
  if (raw.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new BadRequestError(route, `body is not JSON: ${(err as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new BadRequestError(route, 'body must be a JSON object');
  return v as Record<string, unknown>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The client closed the connection before a streamed response ended. */
export class ClientGoneError extends PortsyncError {
  constructor() {
    super('the client closed the connection before the response ended');
  }
}

/**
 * Writes one piece of a streamed (chunked) response. Returns a promise when the socket's buffer is
 * full, settled once it drained (or rejected when the client went away): await it to stream at
 * the reader's pace instead of queueing the whole answer in memory.
 */
export function writeChunk(res: ServerResponse, text: string): void | Promise<void> {
  if (res.destroyed) throw new ClientGoneError();
  if (res.write(text)) return;
  return new Promise((resolve, reject) => {
    const drained = () => {
      res.off('close', gone);
      resolve();
    };
    const gone = () => {
      res.off('drain', drained);
      reject(new ClientGoneError());
    };
    res.once('drain', drained);
    res.once('close', gone);
  });
}
