/**
 * Stat records: a list of paths with the stat data (size, mtime, inode) they had when something
 * was computed from them. While every path still has exactly that stat data, and none of it was
 * too recent to trust when recorded, what was computed from them stands — the shortcut git's
 * index and the metadata cache take. A missing path is recorded as missing (size -1).
 */
import { lstatSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { readSection, type FileSection } from '../fileSection.js';
import { Worker, type MessagePort } from 'node:worker_threads';

/** A file modified this close to (or after) the moment it was recorded is not trusted by its stat data. */
export const RACY_MS = 1000;

/** Is stat data with this mtime old enough, at `at`, to be trusted? */
export const trustedMtime = (mtimeMs: number, at: number): boolean => mtimeMs + RACY_MS < at;

export class StatRecords {
  private readonly paths: string[] = [];
  private readonly follow: number[] = [];
  private readonly size: number[] = [];
  private readonly mtimeMs: number[] = [];
  private readonly ino: number[] = [];
  /** The newest mtime recorded: compared with the moment of recording (racy). */
  newestMtimeMs = 0;

  /** Records stat data known from elsewhere (a cache's validated records). */
  add(path: string, follow: boolean, size: number, mtimeMs: number, ino: number): void {
    this.paths.push(path);
    this.follow.push(follow ? 1 : 0);
    this.size.push(size);
    this.mtimeMs.push(mtimeMs);
    this.ino.push(ino);
    if (mtimeMs > this.newestMtimeMs) this.newestMtimeMs = mtimeMs;
  }

  /**
   * Adds the stored records of paths not recorded here yet, but for `except` (paths found
   * changed since: recorded again by whoever read them).
   */
  addStored(r: StoredStatRecords, except: ReadonlySet<string>): void {
    const have = new Set(this.paths);
    for (let i = 0; i < r.count; i++) {
      const path = r.path(i);
      if (except.has(path) || have.has(path)) continue;
      this.add(path, r.follow[i] === 1, r.size[i]!, r.mtimeMs[i]!, r.ino[i]!);
    }
  }

  /** Adds the first `n` stored records, as stored (checked unchanged just now). */
  addStoredHead(r: StoredStatRecords, n: number): void {
    for (let i = 0; i < n; i++) this.add(r.path(i), r.follow[i] === 1, r.size[i]!, r.mtimeMs[i]!, r.ino[i]!);
  }

  /** How many paths are recorded. */
  get count(): number {
    return this.paths.length;
  }

  /** Records a path's stat data now (missing: recorded as missing). */
  addNow(path: string, follow = false): void {
    const st = (follow ? statSync : lstatSync)(path, { throwIfNoEntry: false });
    if (st) this.add(path, follow, st.isDirectory() ? 0 : st.size, st.mtimeMs, st.ino);
    else this.add(path, follow, -1, 0, 0);
  }

  /** Was everything recorded old enough, at `at` (ms since the epoch), to be trusted by its stat data? */
  trustedAt(at: number): boolean {
    return trustedMtime(this.newestMtimeMs, at);
  }

  store(): StoredStatRecords {
    return decodeRecords(encodeRecords(this.paths, this.follow, this.size, this.mtimeMs, this.ino));
  }
}

/*
 * The stored form (encodeRecords), little-endian: the count n and the paths' byte length (u32
 * each), then size, mtimeMs and ino (n f64 each), where each path ends in the path block (n u32),
 * follow (n u8), and the paths' UTF-8 bytes one after the other. The arrays are 8-byte aligned
 * from the start of the form: read into a block of its own, they are used where they lie.
 */
const HEAD = 8;

/** The stored form of records (as a file keeps them; decodeRecords reads it). */
function encodeRecords(
  paths: readonly string[],
  follow: ArrayLike<number>,
  size: ArrayLike<number>,
  mtimeMs: ArrayLike<number>,
  ino: ArrayLike<number>,
): Buffer {
  const n = paths.length;
  let pathBytes = 0;
  for (const p of paths) pathBytes += Buffer.byteLength(p);
  const at = HEAD + 28 * n;
  const out = Buffer.allocUnsafeSlow(at + n + pathBytes);
  out.writeUInt32LE(n, 0);
  out.writeUInt32LE(pathBytes, 4);
  const f64 = new Float64Array(out.buffer, HEAD, 3 * n);
  f64.set(size, 0);
  f64.set(mtimeMs, n);
  f64.set(ino, 2 * n);
  const ends = new Uint32Array(out.buffer, HEAD + 24 * n, n);
  new Uint8Array(out.buffer, at, n).set(follow);
  let end = 0;
  for (let i = 0; i < n; i++) {
    end += out.write(paths[i]!, at + n + end);
    ends[i] = end;
  }
  return out;
}

/**
 * Stat records as stored: their stat data in typed arrays and their paths as one block of UTF-8
 * (`path(i)` makes one when asked), read where they lie. A real tree's 80,000 paths as 80,000
 * strings cost each thread that checks them a tenth of a second or more to decode, mostly in the
 * garbage collector (they all stay alive); a path made when it is stat'ed is garbage at once.
 */
export class StoredStatRecords {
  readonly count: number;
  readonly size: Float64Array;
  readonly mtimeMs: Float64Array;
  readonly ino: Float64Array;
  readonly follow: Uint8Array;
  private readonly ends: Uint32Array;
  private readonly paths: Buffer;

  /** `bytes`: the stored form (encodeRecords), 8-byte aligned. */
  constructor(readonly bytes: Buffer) {
    const n = (this.count = bytes.readUInt32LE(0));
    const pathBytes = bytes.readUInt32LE(4);
    const { buffer, byteOffset } = bytes;
    this.size = new Float64Array(buffer, byteOffset + HEAD, n);
    this.mtimeMs = new Float64Array(buffer, byteOffset + HEAD + 8 * n, n);
    this.ino = new Float64Array(buffer, byteOffset + HEAD + 16 * n, n);
    this.ends = new Uint32Array(buffer, byteOffset + HEAD + 24 * n, n);
    this.follow = new Uint8Array(buffer, byteOffset + HEAD + 28 * n, n);
    this.paths = bytes.subarray(HEAD + 29 * n, HEAD + 29 * n + pathBytes);
    if (this.paths.length !== pathBytes) throw new Error('the stat records are truncated');
  }

  /** The path of record `i`. */
  path(i: number): string {
    return this.paths.toString('utf8', i ? this.ends[i - 1]! : 0, this.ends[i]!);
  }
}

/** Records from their stored form (copied first when they do not lie 8-byte aligned: a typed array needs that). */
export function decodeRecords(bytes: Uint8Array): StoredStatRecords {
  let b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.byteOffset % 8) {
    const copy = Buffer.allocUnsafeSlow(b.length);
    b.copy(copy);
    b = copy;
  }
  return new StoredStatRecords(b);
}

/** The recorded paths whose stat data changed, and the newest mtime they have now. */
export interface StatChanges {
  paths: string[];
  newestMtimeMs: number;
}

/** The recorded paths whose stat data changed (every one of them: one stat per path). */
export function changedSince(r: StoredStatRecords): StatChanges {
  return changedIn(r, 0, r.count);
}

/** changedSince for the records from index `from` to `to` (exclusive); `onChange` is called with each change found. */
export function changedIn(r: StoredStatRecords, from: number, to: number, onChange?: (path: string) => void): StatChanges {
  const paths: string[] = [];
  let newestMtimeMs = 0;
  for (let i = from; i < to; i++) {
    const path = r.path(i);
    const st = (r.follow[i] ? statSync : lstatSync)(path, { throwIfNoEntry: false });
    const same = st
      ? r.size[i] === (st.isDirectory() ? 0 : st.size) && r.mtimeMs[i] === st.mtimeMs && r.ino[i] === st.ino
      : r.size[i] === -1;
    if (same) continue;
    paths.push(path);
    onChange?.(path);
    if (st && st.mtimeMs > newestMtimeMs) newestMtimeMs = st.mtimeMs;
  }
  return { paths, newestMtimeMs };
}

/**
 * A thread that checks records handed to it (changedSinceInParallel), started before they are
 * known: a thread takes a few tenths of a second to start, about as long as the check itself.
 */
export class StatThread {
  private readonly worker: Worker | undefined;
  private readonly failed: Promise<Error>;

  constructor() {
    let worker: Worker | undefined;
    try {
      // (A small young generation: what the thread makes is a stat result a call, garbage at once, and its
      // records, kept; a large one only touches more fresh memory, which a virtual machine pays dearly for.)
      if (availableParallelism() >= 2)
        worker = new Worker(new URL('./stat-worker.mjs', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    } catch {
      worker = undefined; // (no thread: the caller's thread checks everything)
    }
    this.worker = worker;
    // (It never keeps the process alive: a plan that stops early leaves it to die with it.)
    worker?.unref();
    this.failed = new Promise((resolve) => {
      worker?.once('error', resolve);
      worker?.once('exit', (code) => resolve(new Error(`the stat thread exited (code ${code}) before answering`)));
    });
  }

  /** What changed in these records, checked on the thread (undefined: it cannot run); `onFound` with the first changes it finds, as it finds them. */
  async check(job: StatJob, onFound?: (path: string) => void): Promise<StatAnswer | undefined> {
    const worker = this.worker;
    if (!worker) return undefined;
    // (While a 'message' listener waits, the process waits for the answer: the thread is unref'd only when idle.)
    let listener: ((m: StatMessage) => void) | undefined;
    const answer = new Promise<StatAnswer>((resolve) => {
      listener = (m) => {
        if ('found' in m) onFound?.(m.found);
        else {
          const { tail, ...changes } = m;
          resolve(tail ? { ...changes, tail: Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength) } : changes);
        }
      };
      worker.on('message', listener);
    });
    worker.postMessage(job);
    try {
      const got = await Promise.race([answer, this.failed]);
      return got instanceof Error ? undefined : got;
    } finally {
      worker.off('message', listener!);
    }
  }

  close(): void {
    void this.worker?.terminate();
  }
}

/**
 * Records are checked in runs, each claimed by whichever thread is free (an Atomics counter both
 * share: StatJob.claim): a thread busy with something else meanwhile (changedSinceInParallel's
 * `meanwhile`) leaves the runs to the other. At most this many records a run.
 */
const RUN = 2048;

/** The runs of a check of `count` records: a small one is split too (a test's few hundred records are checked as a real tree's are). */
const runLength = (count: number) => Math.max(1, Math.min(RUN, Math.ceil(count / 16)));

const noop = () => {};

/** The runs of records this thread claims, [from, to) each, until none is left (`claim[0]`: the next record's index). */
function* claimedRuns(claim: SharedArrayBuffer, count: number): Generator<[number, number]> {
  const next = new Int32Array(claim);
  const run = runLength(count);
  for (let from = Atomics.add(next, 0, run); from < count; from = Atomics.add(next, 0, run)) yield [from, Math.min(from + run, count)];
}

/**
 * What a StatThread checks: the `count` records, those it claims (`claim`: a shared Int32 holding
 * the next record's index, which both threads advance by a run at a time), sent in their stored
 * form (`records`: StoredStatRecords.bytes), or read by the thread from an open file (`section`:
 * where that form is; reading them there spares this thread a copy of megabytes).
 */
export type StatJob = { claim: SharedArrayBuffer; count: number } & (
  | { records: Uint8Array }
  | {
      section: { fd: number } & FileSection;
      /** Another part of the file, read by the thread once its records are checked and handed over with its answer (StatAnswer.tail). */
      tail?: FileSection;
      /** FileRecords.tailTaken. */
      tailTaken?: SharedArrayBuffer;
    }
);

/**
 * The thread's answer: the changes in its records, and the `tail` it was asked to read (its
 * memory faulted in by the thread, which has time to spare at its end, not by the one that asked).
 */
export type StatAnswer = StatChanges & { tail?: Buffer };

/** What the stat thread sends: each of the first changes it finds, as it finds them; then its answer. */
export type StatMessage = { found: string } | (StatChanges & { tail?: Uint8Array });

/** Changes the thread tells of as it finds them (what a change calls for may begin with them); the rest come with its answer. */
const FOUND_TOLD = 64;

/** The stat thread's side (stat-worker.mjs): answers each job it is sent. */
export function serveStatJobs(port: MessagePort): void {
  port.on('message', (job: StatJob) => answerStatJob(job, (m, transfer) => port.postMessage(m, transfer ?? [])));
}

/** The stat thread's answer to a job; `post`'s second argument: what to transfer, not copy. */
function answerStatJob(job: StatJob, post: (m: StatMessage, transfer?: ArrayBuffer[]) => void): void {
  const r = decodeRecords(
    'records' in job ? job.records : readSection(job.section.fd, job.section, 'the stat records section', { own: true }),
  );
  let told = 0;
  const tell = (found: string) => {
    if (told++ < FOUND_TOLD) post({ found });
  };
  const paths: string[] = [];
  let newestMtimeMs = 0;
  for (const [from, to] of claimedRuns(job.claim, job.count)) {
    const c = changedIn(r, from, to, tell);
    paths.push(...c.paths);
    newestMtimeMs = Math.max(newestMtimeMs, c.newestMtimeMs);
  }
  const taken = 'section' in job && job.tailTaken !== undefined && Atomics.load(new Int32Array(job.tailTaken), 0) !== 0;
  const tail = 'section' in job && job.tail && !taken ? readSection(job.section.fd, job.tail, 'the file', { own: true }) : undefined;
  if (tail) post({ paths, newestMtimeMs, tail }, [tail.buffer as ArrayBuffer]);
  else post({ paths, newestMtimeMs });
}

/**
 * Records kept in an open file (`section`: where their stored form is), `count` of them:
 * the stat thread reads them there while this one reads them (`read`), sparing this thread
 * the copy of tens of thousands of paths.
 */
export interface FileRecords {
  count: number;
  section: { fd: number } & FileSection;
  /** Another part of the file for the thread to read when its records are checked (StatJob.tail). */
  tail?: FileSection;
  /** Its first Int32 set to 1 (Atomics) when the asking thread has read the tail itself: the thread then does not read it again. */
  tailTaken?: SharedArrayBuffer;
  read(): StoredStatRecords;
}

/**
 * changedSince with the records checked by this thread and another (`thread`, or one started
 * now), each taking the next run of records when it is free: a real tree's 80,000 paths are most
 * of a second of stat calls on one thread. Fewer than `minPerThread` paths per thread are not
 * worth a thread. `meanwhile` is called once, as soon as a change is known (found here, or told
 * by the other thread), with what tells the changes found so far: what a change calls for begins
 * at once, before this thread checks more (the other checks on meanwhile), and is awaited before
 * the answer. The thread is closed.
 */
export async function changedSinceInParallel(
  source: StoredStatRecords | FileRecords,
  thread?: StatThread,
  opts: { minPerThread?: number; meanwhile?: (foundSoFar: () => readonly string[]) => unknown } = {},
): Promise<StatAnswer> {
  const inFile = 'section' in source;
  const n = source.count;
  if (n < 2 * (opts.minPerThread ?? 15_000) || availableParallelism() < 2) {
    thread?.close();
    return changedSince(inFile ? source.read() : source);
  }
  const helper = thread ?? new StatThread();
  const claim = new SharedArrayBuffer(4);
  const mine: StatChanges = { paths: [], newestMtimeMs: 0 };
  // (What the other thread told of so far; this thread's are mine.paths.)
  const told: string[] = [];
  let meanwhile: Promise<unknown> | undefined;
  const begin = () => {
    if ((mine.paths.length || told.length) && !meanwhile && opts.meanwhile) {
      meanwhile = (async () => opts.meanwhile!(() => [...mine.paths, ...told]))();
      meanwhile.catch(() => {}); // (awaited before the answer)
    }
  };
  const job: StatJob = inFile
    ? {
        claim,
        count: n,
        section: source.section,
        ...(source.tail ? { tail: source.tail } : {}),
        ...(source.tailTaken ? { tailTaken: source.tailTaken } : {}),
      }
    : { claim, count: n, records: source.bytes };
  // (Sent first: the other thread checks while this one reads its records.)
  const theirs = helper.check(job, (path) => {
    told.push(path);
    begin();
  });
  try {
    let r: StoredStatRecords | undefined;
    const records = () => {
      r ??= inFile ? source.read() : source;
      if (r.count !== n) throw new Error(`internal: ${r.count} stat records where ${n} were said`);
      return r;
    };
    for (const [from, to] of claimedRuns(claim, n)) {
      const c = changedIn(records(), from, to);
      mine.paths.push(...c.paths);
      mine.newestMtimeMs = Math.max(mine.newestMtimeMs, c.newestMtimeMs);
      begin();
      // A change found: what it calls for goes first, the other thread checking on meanwhile (this
      // one takes the runs left, if any, once it is done). Else the other thread's changes, told
      // while this one waits a turn, begin it.
      await (meanwhile ? meanwhile.then(noop, noop) : new Promise(setImmediate));
    }
    const other = await theirs;
    // The thread could not run (no threads left, a module that failed to load): this one checks them all.
    const all: StatAnswer = other
      ? { paths: [...mine.paths, ...other.paths], newestMtimeMs: Math.max(mine.newestMtimeMs, other.newestMtimeMs) }
      : changedSince(records());
    if (!other) {
      mine.paths = all.paths;
      begin();
    }
    await meanwhile;
    return { ...all, ...(other?.tail ? { tail: other.tail } : {}) };
  } finally {
    helper.close();
  }
}
