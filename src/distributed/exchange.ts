/**
 * The coordinator's package exchange: a small HTTP server that lives as long as a distributed
 * pass and is the only door agents have to the repository.
 *
 *   GET /jobs/<job>                        200 while the job is in flight, 410 once it is finished
 *                                          (an agent asks before building a job the queue retried)
 *   GET /jobs/<job>/packages/<pkgfile>     a dependency package of a job in flight (read-only: only
 *                                          the files that job installs, from the pass's repository)
 *   PUT /jobs/<job>/<attempt>/package      the package an attempt built (X-Portsync-Sha256: its SHA-256;
 *                                          X-Portsync-Report: the attempt's result, job.ts UploadReport);
 *                                          answered with the coordinator's verdict: 201 taken, 409 refused
 *
 * Both need `Authorization: Bearer <token>` (builds.yaml `executor.tokenEnv`). An upload is
 * written to a temporary name while it is hashed and counted, refused beyond the size cap, and
 * renamed only when whole, flushed to disk and matching its announced SHA-256: a cut or lying
 * upload leaves nothing. It is not published here: each stored upload is handed to the
 * coordinator (`onUpload`), which checks it, publishes it and finishes the build; the agent is
 * answered once the coordinator has decided, so that what it reports is what was recorded.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, fsync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SMALL_UPLOAD } from './job.js';
import { ServedPackages } from './servedPackages.js';

export interface ExchangeOptions {
  /** host:port (port 0: any free port). */
  listen: string;
  /** How agents reach it (default http://<the address it got>). */
  url?: string;
  token: string;
  maxPackageBytes: number;
  /** Where uploads land (a directory of the coordinator's build base). */
  uploads: string;
  /**
   * Called with each upload stored whole and checked; resolves to why it is refused (a lost
   * attempt's, or a package the coordinator's checks refuse: the agent is answered 409 with it
   * and the file removed) or undefined once it is taken (answered 201).
   */
  onUpload?: (upload: StoredUpload) => UploadVerdict | Promise<UploadVerdict>;
}

/** Why the coordinator refused an upload, or undefined: taken. */
export type UploadVerdict = string | undefined;

/** A package an attempt uploaded, whole, its bytes matching `sha256`. */
export interface StoredUpload {
  jobId: string;
  attempt: string;
  file: string;
  sha256: string;
  /** The agent's X-Portsync-Report header as sent (job.ts decodeUploadReport reads it). */
  report: string | undefined;
}

interface JobEntry {
  /** The repository the job's dependencies are installed from (its All/ directory holds them). */
  packages: string;
  installs: Set<string>;
  /** Files its uploads left here (whole, or still being written): removed when it is forgotten. */
  uploads: Set<string>;
  /** Its whole uploads, by attempt. */
  stored: Map<string, StoredUpload>;
}

// Compared as digests: of the same length whatever was sent, in constant time.
const digest = (secret: string) => createHash('sha256').update(secret).digest();

export class PackageExchange {
  private readonly jobs = new Map<string, JobEntry>();
  private readonly tokenDigest: Buffer;
  private readonly served = new ServedPackages();
  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly opts: ExchangeOptions,
  ) {
    this.tokenDigest = digest(opts.token);
  }

  static async start(opts: ExchangeOptions): Promise<PackageExchange> {
    mkdirSync(opts.uploads, { recursive: true });
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(opts.listen)!;
    const host = m[1] ?? m[2]!;
    let exchange: PackageExchange | undefined;
    // An upload's report names the shared libraries of its package: more than Node's 16 KiB of headers for a big one.
    const server = createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
      exchange!.handle(req, res).catch((e: unknown) => reply(res, 500, `internal error: ${(e as Error).message}`));
    });
    server.requestTimeout = 0; // a big package over a slow link takes what it takes; the cap bounds it
    server.headersTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(m[3]), host, () => resolve());
    });
    const addr = server.address() as AddressInfo;
    const url = opts.url ?? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    exchange = new PackageExchange(server, url.replace(/\/+$/, ''), opts);
    return exchange;
  }

  /** Opens the downloads of a job's dependencies (until `forget`). */
  register(jobId: string, packages: string, installs: readonly string[]): void {
    this.jobs.set(jobId, { packages, installs: new Set(installs), uploads: new Set(), stored: new Map() });
  }

  forget(jobId: string): void {
    const job = this.jobs.get(jobId);
    this.jobs.delete(jobId);
    for (const f of job?.uploads ?? []) rmSync(f, { force: true });
  }

  /** The whole, checked package an attempt uploaded, or undefined. */
  uploaded(jobId: string, attempt: string): StoredUpload | undefined {
    return this.jobs.get(jobId)?.stored.get(attempt);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private uploadFile(jobId: string, attempt: string): string {
    return join(this.opts.uploads, `${jobId}.${attempt}.pkg`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = req.headers.authorization;
    if (typeof auth !== 'string' || !auth.startsWith('Bearer ') || !timingSafeEqual(digest(auth.slice(7)), this.tokenDigest)) {
      req.resume();
      return reply(res, 401, "missing or wrong token (Authorization: Bearer <the token in the agent's environment>)");
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const job = /^\/jobs\/([0-9a-f-]{36})$/.exec(url.pathname);
    if (job && req.method === 'GET') {
      req.resume();
      return this.jobs.has(job[1]!) ? reply(res, 200, 'in flight') : reply(res, 410, `job ${job[1]} is not running in this pass`);
    }
    const get = /^\/jobs\/([0-9a-f-]{36})\/packages\/([A-Za-z0-9_+][A-Za-z0-9_.,+~-]*)$/.exec(url.pathname);
    if (get && req.method === 'GET') return this.download(get[1]!, get[2]!, res);
    const put = /^\/jobs\/([0-9a-f-]{36})\/([0-9a-f-]{36})\/package$/.exec(url.pathname);
    if (put && req.method === 'PUT') return this.upload(put[1]!, put[2]!, req, res);
    req.resume();
    return reply(res, 404, `no route ${req.method} ${url.pathname}`);
  }

  private async download(jobId: string, pkgfile: string, res: ServerResponse): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job) return reply(res, 410, `job ${jobId} is not running in this pass`);
    if (!job.installs.has(pkgfile)) return reply(res, 403, `job ${jobId} does not install ${pkgfile}`);
    const file = join(job.packages, 'All', pkgfile);
    let got: Awaited<ReturnType<ServedPackages['get']>>;
    try {
      got = await this.served.get(file);
    } catch {
      return reply(res, 404, `${pkgfile} is not in the repository`);
    }
    const size = 'bytes' in got ? got.bytes.length : got.stat.size;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    if ('bytes' in got) res.end(got.bytes);
    else await pipeline(createReadStream(file), res).catch(() => res.destroy());
  }

  private async upload(jobId: string, attempt: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refuse = (status: number, why: string) => {
      req.resume();
      reply(res, status, why);
    };
    const job = this.jobs.get(jobId);
    if (!job)
      return refuse(
        410,
        `job ${jobId} is not running in this pass (it finished, timed out or was never dispatched): the package is not taken`,
      );
    const sha = req.headers['x-portsync-sha256'];
    if (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha))
      return refuse(400, "X-Portsync-Sha256 must be the package's SHA-256 in hex");
    const declared = Number(req.headers['content-length']);
    if (!Number.isSafeInteger(declared) || declared < 0) return refuse(411, 'Content-Length is required');
    const cap = this.opts.maxPackageBytes;
    if (declared > cap) return refuse(413, `the package is ${declared} bytes, more than executor.maxPackageSize (${cap} bytes)`);
    const file = this.uploadFile(jobId, attempt);
    const tmp = `${file}.${process.pid}.tmp`;
    job.uploads.add(tmp);
    const hash = createHash('sha256');
    let bytes = 0;
    const counted = async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        bytes += chunk.length;
        if (bytes > cap || bytes > declared) throw new Error(`more than the ${Math.min(cap, declared)} bytes announced or allowed`);
        hash.update(chunk);
        yield chunk;
      }
    };
    const checked = () => {
      if (bytes !== declared) throw new Error(`got ${bytes} of ${declared} bytes`);
      const got = hash.digest('hex');
      if (got !== sha) throw new Error(`its SHA-256 is ${got}, not the announced ${sha}`);
    };
    try {
      // Flushed here, off the main thread, so that publishing it is a rename (builder/publish.ts movePackage). A small
      // package is taken whole and written at once (fewer turns of the event loop than a file stream).
      if (declared <= SMALL_UPLOAD) {
        const chunks: Buffer[] = [];
        for await (const chunk of counted(req)) chunks.push(chunk);
        checked();
        await writeFlushed(tmp, Buffer.concat(chunks, bytes));
      } else {
        await pipeline(req, counted, createWriteStream(tmp, { mode: 0o644 }));
        checked();
        await flushFile(tmp);
      }
      if (this.jobs.get(jobId) !== job) throw new Error(`job ${jobId} ended while its package was arriving`);
      renameSync(tmp, file);
      job.uploads.add(file);
    } catch (e) {
      rmSync(tmp, { force: true });
      // A client that went away gets no answer; one that sent too much or the wrong thing does.
      return reply(res, 422, `upload refused, nothing kept: ${(e as Error).message}`);
    } finally {
      job.uploads.delete(tmp);
    }
    const report = req.headers['x-portsync-report'];
    const stored: StoredUpload = { jobId, attempt, file, sha256: sha, report: typeof report === 'string' ? report : undefined };
    job.stored.set(attempt, stored);
    const unwanted = await this.opts.onUpload?.(stored);
    if (unwanted) {
      job.stored.delete(attempt);
      job.uploads.delete(file);
      rmSync(file, { force: true });
      return reply(res, 409, `upload refused, nothing kept: ${unwanted}`);
    }
    reply(res, 201, 'stored');
  }
}

const fsyncFd = promisify(fsync);

/**
 * Writes a small file on this thread (into the page cache: quick) and flushes it to disk on the
 * thread pool: one trip there and back, where fs.promises.writeFile makes four (open, write,
 * sync, close) — each a wait for a core on a busy coordinator.
 */
async function writeFlushed(file: string, bytes: Buffer): Promise<void> {
  const fd = openSync(file, 'w', 0o644);
  try {
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

async function flushFile(file: string): Promise<void> {
  const fd = openSync(file, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

function reply(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify({ status, message });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(status >= 400 ? { connection: 'close' } : {}),
  });
  res.end(body);
}
