/**
 * The agent's side of the package exchange: downloading a job's dependency packages (each
 * checked against its recorded SHA-256, kept in a cache by checksum) and uploading what it built.
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  copyFileSync,
} from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PackageTransferError, UploadRefusedError } from './errors.js';
import { SMALL_UPLOAD, encodeUploadReport, type UploadReport } from './job.js';

const TIMEOUT_MS = 60_000;

function send(
  url: string,
  init: { method: string; headers: Record<string, string | number> },
  body?: (req: NodeJS.WritableStream) => Promise<void>,
): Promise<IncomingMessage> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(u, { method: init.method, headers: init.headers, timeout: TIMEOUT_MS }, resolve);
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`no answer for ${TIMEOUT_MS / 1000} s`)));
    if (body) body(req).catch((e: unknown) => req.destroy(e as Error));
    else req.end();
  });
}

async function errorText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8').slice(0, 500);
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    return text;
  }
}

/**
 * Puts `pkgfile` into `dir` (the job's repository, All/): from the cache when a file with that
 * checksum is there, else downloaded, hashed on the way, and kept in the cache when it matches.
 */
export async function fetchPackage(opts: {
  url: string;
  token: string;
  pkgfile: string;
  checksum?: string;
  dir: string;
  cache: string;
}): Promise<'cached' | 'downloaded'> {
  const dest = join(opts.dir, opts.pkgfile);
  mkdirSync(opts.dir, { recursive: true });
  const cached = opts.checksum ? join(opts.cache, opts.checksum) : undefined;
  if (cached && existsSync(cached)) {
    rmSync(dest, { force: true });
    try {
      linkSync(cached, dest);
    } catch {
      copyFileSync(cached, dest);
    }
    return 'cached';
  }
  const fail = (detail: string, cause?: unknown) => new PackageTransferError(opts.pkgfile, opts.url, detail, cause ? { cause } : undefined);
  let res: IncomingMessage;
  try {
    res = await send(opts.url, { method: 'GET', headers: { authorization: `Bearer ${opts.token}` } });
  } catch (e) {
    throw fail(`cannot download it: ${(e as Error).message}`, e);
  }
  if (res.statusCode !== 200) throw fail(`download refused (${res.statusCode}): ${await errorText(res)}`);
  const tmp = `${dest}.${process.pid}.tmp`;
  const hash = createHash('sha256');
  try {
    await pipeline(
      res,
      async function* (src: AsyncIterable<Buffer>) {
        for await (const c of src) {
          hash.update(c);
          yield c;
        }
      },
      createWriteStream(tmp),
    );
    const got = hash.digest('hex');
    if (opts.checksum && got !== opts.checksum)
      throw new Error(`its SHA-256 is ${got}, not the ${opts.checksum} recorded when it was built`);
    renameSync(tmp, dest);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw fail(`download failed: ${(e as Error).message}`, e);
  }
  if (cached) {
    mkdirSync(opts.cache, { recursive: true });
    try {
      linkSync(dest, `${cached}.${process.pid}.tmp`);
      renameSync(`${cached}.${process.pid}.tmp`, cached);
    } catch {
      rmSync(`${cached}.${process.pid}.tmp`, { force: true }); // the cache is only a shortcut
    }
  }
  return 'downloaded';
}

/** SHA-256 of a file, streamed. */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const c of createReadStream(file) as AsyncIterable<Buffer>) hash.update(c);
  return hash.digest('hex');
}

/**
 * Why a job is no longer worth building, or undefined while the coordinator has it in flight
 * (GET <exchange>/jobs/<id>: 200). Without an exchange to answer, the pass that queued it is over:
 * its packages could be neither downloaded nor uploaded.
 */
export async function jobGone(exchange: string, jobId: string, token: string): Promise<string | undefined> {
  let res: IncomingMessage;
  try {
    res = await send(`${exchange}/jobs/${jobId}`, { method: 'GET', headers: { authorization: `Bearer ${token}` } });
  } catch (e) {
    return `the coordinator's exchange ${exchange} does not answer (${(e as Error).message}): the pass that queued it is over`;
  }
  if (res.statusCode === 200) {
    res.resume();
    return undefined;
  }
  return `the coordinator's exchange says ${res.statusCode}: ${await errorText(res)}`;
}

/**
 * Uploads a built package to the coordinator (PUT, with its size, SHA-256 and the attempt's
 * report) and waits for its verdict: resolves once the package is taken, throws
 * UploadRefusedError with the coordinator's reason when it is refused (PackageTransferError when
 * it never got there whole).
 */
export async function uploadPackage(opts: {
  url: string;
  token: string;
  file: string;
  pkgfile: string;
  /** Its SHA-256 when known already (else it is hashed here); the coordinator refuses bytes that do not match it. */
  sha256?: string;
  /** The attempt's result: the coordinator finishes the build with it when the package arrives. */
  report?: UploadReport;
}): Promise<void> {
  const fail = (detail: string, cause?: unknown) => new PackageTransferError(opts.pkgfile, opts.url, detail, cause ? { cause } : undefined);
  const size = statSync(opts.file).size;
  // (Read on this thread: the build just wrote it, it is in the page cache; four trips through the thread pool cost more.)
  const whole = size <= SMALL_UPLOAD ? readFileSync(opts.file) : undefined;
  const sha = opts.sha256 ?? (whole ? createHash('sha256').update(whole).digest('hex') : await fileSha256(opts.file));
  let res: IncomingMessage;
  try {
    res = await send(
      opts.url,
      {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${opts.token}`,
          'content-type': 'application/octet-stream',
          'content-length': size,
          'x-portsync-sha256': sha,
          ...(opts.report ? { 'x-portsync-report': encodeUploadReport(opts.report) } : {}),
        },
      },
      whole ? async (req) => void req.end(whole) : (req) => pipeline(createReadStream(opts.file), req),
    );
  } catch (e) {
    throw fail(`cannot upload it: ${(e as Error).message}`, e);
  }
  if (res.statusCode === 409) throw new UploadRefusedError(opts.pkgfile, opts.url, await errorText(res));
  if (res.statusCode !== 201) throw fail(`upload refused (${res.statusCode}): ${await errorText(res)}`);
  res.resume();
}
