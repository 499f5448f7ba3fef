/**
 * A build job as it travels through the queue, the events an agent sends back while it runs, and
 * what it returns. The agent trusts nothing in a job it did not check: every name that becomes a
 * path or a command is validated here (parseBuildJob), so a bad job is refused, never run.
 */
import { PHASES, type MakeCall } from '../builder/phases.js';
import type { BuildTask, BuildTaskResult, TaskEvent } from '../builder/task.js';
import type { Limits } from '../config/types.js';
import type { BackendName } from '../builder/sandbox/types.js';
import { JobPayloadError } from './errors.js';

/**
 * Bumped when the payload, the events or the upload change: an agent refuses a job of another
 * format (2: events sent several at once; 3: an upload carries its attempt's report).
 */
export const JOB_FORMAT = 3;

/** A package up to this size is moved whole in memory (read and sent in one write, taken and written at once): most are. */
export const SMALL_UPLOAD = 4 << 20;

/** What the tree looked like to the coordinator: the agent checks its own tree against it. */
export type TreeIdentity =
  /** Commit mode: the agent's tree must be a git work tree at this commit. */
  | { kind: 'commit'; commit: string }
  /** Worktree mode: the port directory's CRC and the CRCs of every other file its build reads (tree-relative). */
  | { kind: 'worktree'; portCrc: string; files: Record<string, string> };

/**
 * A build task as it travels: what the agent builds (its paths, slot and log are the agent's own);
 * make.env values naming the tree start with `@tree` (the agent's tree replaces it); `buildId` is
 * the coordinator's first build id of the job (the job's id in the queue).
 */
export type BuildJob = Omit<BuildTask, 'port' | 'slot' | 'paths' | 'logPath'> & {
  format: typeof JOB_FORMAT;
  runId: string;
  tree: TreeIdentity;
  /** The coordinator's package exchange (src/distributed/exchange.ts), for this job's downloads and upload. */
  exchange: string;
};

/** What an agent reports while it works on a job (BullMQ job progress). `attempt` tells one try of the job from the next. */
export type JobEvent =
  | { type: 'attempt'; attempt: string; host: string }
  | { type: 'task'; attempt: string; event: Extract<TaskEvent, { type: 'phase-start' | 'phase-end' }> }
  | { type: 'log'; attempt: string; offset: number; text: string }
  | { type: 'alive'; attempt: string };

/** A job's progress as it travels: one event, or several sent together (src/distributed/eventSender.ts). */
export type JobProgress = JobEvent | JobEvent[];

/** What a job returns (BullMQ return value). A successful build's package was uploaded before. */
export interface JobReturn {
  attempt: string;
  host: string;
  result: BuildTaskResult;
}

const ORIGIN = /^[A-Za-z0-9][A-Za-z0-9_.+-]*\/[A-Za-z0-9][A-Za-z0-9_.+-]*(@[A-Za-z0-9_.+-]+)?$/;
const FILE_NAME = /^[A-Za-z0-9_+][A-Za-z0-9_.,+~-]*$/;
const HEX = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A make command: a name or an absolute path, nothing a shell would read. */
const COMMAND = /^\/?[A-Za-z0-9_.+-]+(\/[A-Za-z0-9_.+-]+)*$/;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/** Checks a job taken from the queue; throws JobPayloadError naming the field at fault. */
export function parseBuildJob(jobId: string, data: unknown): BuildJob {
  const fail = (field: string, detail: string): never => {
    throw new JobPayloadError(jobId, field, detail);
  };
  if (typeof data !== 'object' || data === null) fail('payload', 'is not an object');
  const j = data as Record<string, unknown>;
  const str = (field: string, re?: RegExp): string => {
    const v = j[field];
    if (typeof v !== 'string') return fail(field, 'is missing');
    if (re && !re.test(v)) fail(field, `is not valid (${JSON.stringify(v).slice(0, 200)})`);
    return v;
  };
  if (j.format !== JOB_FORMAT) fail('format', `is ${JSON.stringify(j.format)}, this agent runs format ${JOB_FORMAT}`);
  const origin = str('origin', ORIGIN);
  const dir = str('dir', ORIGIN);
  if (origin.split('@')[0] !== dir) fail('dir', `is ${dir}, not the directory of ${origin}`);
  const flavor = str('flavor');
  if (flavor && !/^[A-Za-z0-9_.+-]+$/.test(flavor)) fail('flavor', 'is not a flavor name');
  const backend = str('backend');
  if (backend !== 'chroot' && backend !== 'host') fail('backend', `is ${JSON.stringify(backend)}, not chroot or host`);
  const phases = j.phases;
  if (!Array.isArray(phases) || phases.some((p) => !(PHASES as readonly string[]).includes(p)))
    fail('phases', `must be phases among ${PHASES.join(', ')}`);
  const installs = j.installs;
  if (!Array.isArray(installs)) fail('installs', 'is not a list');
  for (const i of installs as unknown[]) {
    const x = i as Record<string, unknown>;
    if (typeof x?.pkgfile !== 'string' || !FILE_NAME.test(x.pkgfile))
      fail('installs', `names a package file that is not a plain file name: ${JSON.stringify(x?.pkgfile)}`);
    if (typeof x.pkgname !== 'string' || !FILE_NAME.test(x.pkgname))
      fail('installs', `names a package that is not a plain name: ${JSON.stringify(x.pkgname)}`);
    if (x.checksum !== undefined && (typeof x.checksum !== 'string' || !HEX(64).test(x.checksum)))
      fail('installs', `has a checksum that is not a SHA-256: ${JSON.stringify(x.checksum)}`);
  }
  const make = j.make as Record<string, unknown> | undefined;
  if (typeof make !== 'object' || make === null) fail('make', 'is missing');
  if (typeof make!.command !== 'string' || !COMMAND.test(make!.command))
    fail('make.command', `is not a command name or path: ${JSON.stringify(make!.command)}`);
  if (!Number.isInteger(make!.makeJobs) || (make!.makeJobs as number) < 1) fail('make.makeJobs', 'is not a whole number above zero');
  for (const key of ['env', 'vars'] as const) {
    const m = make![key];
    if (typeof m !== 'object' || m === null) fail(`make.${key}`, 'is not a map');
    for (const [k, v] of Object.entries(m as object))
      if (!VAR_NAME.test(k) || typeof v !== 'string') fail(`make.${key}`, `has a bad entry ${JSON.stringify(k)}`);
  }
  const limits = j.limits as Record<string, unknown> | undefined;
  if (
    typeof limits !== 'object' ||
    limits === null ||
    typeof limits.phaseTimeoutMs !== 'number' ||
    typeof limits.noOutputTimeoutMs !== 'number'
  )
    fail('limits', 'are missing');
  const tree = j.tree as Record<string, unknown> | undefined;
  if (tree?.kind === 'commit') {
    if (typeof tree.commit !== 'string' || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(tree.commit)) fail('tree.commit', 'is not a commit hash');
  } else if (tree?.kind === 'worktree') {
    if (typeof tree.portCrc !== 'string' || !HEX(8).test(tree.portCrc)) fail('tree.portCrc', 'is not a CRC');
    if (typeof tree.files !== 'object' || tree.files === null) fail('tree.files', 'is not a map');
  } else fail('tree', 'is neither a commit nor a worktree identity');
  const exchange = str('exchange', /^https?:\/\/[^\s/]+$/);
  return {
    format: JOB_FORMAT,
    runId: str('runId'),
    origin,
    dir,
    flavor,
    pkgname: str('pkgname', FILE_NAME),
    version: str('version'),
    pkgfile: str('pkgfile', FILE_NAME),
    buildId: str('buildId', UUID),
    buildKey: str('buildKey', HEX(64)),
    backend: backend as BackendName,
    make: make as unknown as MakeCall,
    phases: phases as string[],
    installs: installs as BuildJob['installs'],
    limits: limits as unknown as Limits,
    tree: tree as unknown as TreeIdentity,
    exchange,
  };
}

/**
 * What an agent sends with a package it uploads (header X-Portsync-Report, base64url JSON): the
 * attempt's result, so that the coordinator finishes the build when the package arrives instead
 * of waiting for the job's completion to come round through the queue; and how many events the
 * attempt sent before it, so that the build is finished only once all of them are in.
 */
export interface UploadReport {
  host: string;
  /** JobEvents of this attempt sent (and written to the queue) before the upload. */
  events: number;
  result: BuildTaskResult & { status: 'success' };
}

export const encodeUploadReport = (r: UploadReport): string => Buffer.from(JSON.stringify(r), 'utf8').toString('base64url');

/** Reads an upload's report; undefined when it is missing or malformed (the coordinator then waits for the job's completion). */
export function decodeUploadReport(header: string | undefined): UploadReport | undefined {
  if (!header) return undefined;
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const result = r?.result as Record<string, unknown> | undefined;
  if (
    typeof r?.host !== 'string' ||
    !Number.isSafeInteger(r.events) ||
    (r.events as number) < 1 ||
    typeof result !== 'object' ||
    result === null ||
    result.status !== 'success' ||
    typeof result.lastPhase !== 'string' ||
    typeof result.durationMs !== 'number'
  )
    return undefined;
  const pkg = result.package as Record<string, unknown> | undefined;
  if (
    pkg !== undefined &&
    (typeof pkg !== 'object' ||
      pkg === null ||
      typeof pkg.identity !== 'string' ||
      !HEX(64).test(pkg.identity) ||
      typeof pkg.checksum !== 'string' ||
      !HEX(64).test(pkg.checksum) ||
      !Array.isArray(pkg.shlibs) ||
      pkg.shlibs.some((l) => typeof l !== 'string' || l.includes('/')))
  )
    return undefined;
  return r as unknown as UploadReport;
}
