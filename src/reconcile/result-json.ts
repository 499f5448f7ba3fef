/**
 * The JSON documents of the contract that a pass and a plan print (`reconcile --json`, `plan
 * --json`, and the daemon's POST /reconcile and GET /plan answers): declared here as the wire
 * types clients rely on, and made from the in-memory results.
 */
import type { PortStatus } from '../builder/outcomes.js';
import type { Cascade } from '../fingerprint/types.js';
import type { Reason } from './decide.js';
import type { OrphanPackage } from './orphans.js';
import type { RepositoryOutcome } from './passRepository.js';
import type { PassResult, PassStats } from './passResult.js';
import type { Plan, PlanAction, PlanSummary } from './plan.js';

/** One port of a pass. */
export interface ReconcilePortJson {
  origin: string;
  pkgname: string;
  version: string;
  status: PortStatus;
  /** The build's id (`history`, `logs --build`); null when it was not built. */
  buildId: string | null;
  reason: string;
  error?: string;
  lastPhase?: string;
  durationMs?: number;
  /** The build's log file. */
  log?: string;
}

/** `reconcile --json`: one pass. */
export interface ReconcileJson {
  runId: string;
  gitCommit: string | null;
  status: PassResult['status'];
  stats: PassStats;
  ports: ReconcilePortJson[];
  problems: string[];
  /** Packages the pass removed (policy.prune). */
  pruned?: OrphanPackage[];
  repository?: RepositoryOutcome;
}

/** One line of a plan: a port of the closure, or (action `prune`) a package file a pass would remove. */
export interface PlanPortJson {
  /** null: a package to prune that belongs to no known port. */
  origin: string | null;
  pkgname: string;
  action: PlanAction | 'prune';
  reasons: Reason[];
  version: string;
  pkgfile: string | null;
  /** pending: the dependencies whose packages decide. */
  waitingOn?: string[];
  buildKey?: string;
  crc?: string;
  suspended?: true;
}

/** `plan --json`. */
export interface PlanJson {
  configWarnings: string[];
  ports: PlanPortJson[];
  summary: PlanSummary;
  cascade: Cascade;
  problems: string[];
  warnings: { origin: string; lines: string[] }[];
}

// Computed once per pass: the summary lists and the daemon's status both use it (10,000 ports on a real tree).
const made = new WeakMap<PassResult, ReconcileJson>();

export function reconcileJson(r: PassResult): ReconcileJson {
  let json = made.get(r);
  if (!json) made.set(r, (json = makeJson(r)));
  return json;
}

function makeJson(r: PassResult): ReconcileJson {
  return {
    runId: r.runId,
    gitCommit: r.gitCommit,
    status: r.status,
    stats: r.stats,
    ports: r.ports.map((p) => ({
      origin: p.origin,
      pkgname: p.pkgname,
      version: p.version,
      status: p.status,
      buildId: p.buildId ?? null,
      reason: p.reason,
      ...(p.error ? { error: p.error } : {}),
      ...(p.lastPhase ? { lastPhase: p.lastPhase } : {}),
      ...(p.durationMs !== undefined ? { durationMs: p.durationMs } : {}),
      ...(p.logPath ? { log: p.logPath } : {}),
    })),
    problems: r.plan.problems,
    ...(r.pruned ? { pruned: r.pruned } : {}),
    ...(r.repository ? { repository: r.repository } : {}),
  };
}

/** The contract's `plan --json` document (also the daemon's GET /plan answer). */
export function planJson(plan: Plan): PlanJson {
  return {
    configWarnings: plan.observation.state.warnings,
    ports: [
      // (A line carried from a kept plan is that plan's line, as it was printed.)
      ...plan.ports.map((p) =>
        p instanceof PlanLine
          ? p
          : {
              origin: p.origin,
              pkgname: p.pkgname,
              action: p.action,
              reasons: p.reasons,
              version: p.version,
              pkgfile: p.pkgfile ?? null,
              ...(p.action === 'pending' && p.waitingOn ? { waitingOn: p.waitingOn } : {}),
              ...(p.buildKey ? { buildKey: p.buildKey } : {}),
              ...(p.crc ? { crc: p.crc } : {}),
              ...(p.suspended ? { suspended: true as const } : {}),
            },
      ),
      // What a pass would prune (policy.prune): package files, each named by the port it was of (null: none known).
      ...plan.prune.map((o): PlanPortJson => ({
        origin: o.origin,
        pkgname: o.pkgname,
        action: 'prune',
        reasons: [{ kind: 'orphan', detail: o.reason }],
        version: o.version ?? '',
        pkgfile: o.pkgfile,
      })),
    ],
    summary: plan.summary,
    cascade: plan.cascade,
    problems: plan.problems,
    warnings: plan.warnings,
  };
}

/** A plan's summary in one line, as `portsync plan` ends and a pass says before it builds. */
export function planSummaryLine(s: PlanSummary): string {
  return `plan: ${s.total} ports: ${s.build} to build, ${s.pending} pending (rebuilt only if a dependency's result changes), ${s.skip} up to date, ${s.ignored} ignored, ${s.blocked} blocked${s.prune ? `; ${s.prune} packages to prune` : ''}`;
}

/**
 * A port's line of a printed plan (`plan --json`), carried into a new plan as it is: read only
 * when something asks what it says, and printed as the bytes it was (renderPlanJson). A plan
 * made from a kept one on a real tree carries thousands; reading and printing the whole 8 MB
 * document again took a tenth of a second or more.
 */
export class PlanLine implements PlanPortJson {
  #read: PlanPortJson | undefined;
  /** The build key read alone (null: none): a kept plan's decisions are compared by it (what dependents see of a port). */
  #buildKey: string | null | undefined;

  constructor(
    /** The printed plan, and where the line is in it (from its `{` to its `}`). */
    readonly text: Buffer,
    readonly start: number,
    readonly end: number,
    readonly origin: string,
    readonly action: PlanAction,
  ) {}

  private get line(): PlanPortJson {
    return (this.#read ??= JSON.parse(this.text.toString('utf8', this.start, this.end)) as PlanPortJson);
  }
  get pkgname(): string {
    return this.line.pkgname;
  }
  get reasons(): Reason[] {
    return this.line.reasons;
  }
  get version(): string {
    return this.line.version;
  }
  get pkgfile(): string | null {
    return this.line.pkgfile;
  }
  get waitingOn(): string[] | undefined {
    return this.line.waitingOn;
  }
  get buildKey(): string | undefined {
    if (this.#read) return this.#read.buildKey;
    if (this.#buildKey === undefined) {
      const text = fieldText(this.text, this.start, this.end, 'buildKey');
      this.#buildKey = text === undefined ? null : (JSON.parse(text) as string);
    }
    return this.#buildKey ?? undefined;
  }
  get crc(): string | undefined {
    return this.line.crc;
  }
  get suspended(): true | undefined {
    return this.line.suspended;
  }
  toJSON(): PlanPortJson {
    return this.line;
  }
}

const PORTS_OPEN = '\n  "ports": [\n';
const LINE_END = '\n    }';

// (Searched for as bytes: a string would be encoded again for every line.)
const FIELD_KEYS = {
  origin: Buffer.from('\n      "origin": '),
  action: Buffer.from('\n      "action": '),
  buildKey: Buffer.from('\n      "buildKey": '),
};

/** One top-level field of a printed port line (6 spaces in: nested fields are deeper), as JSON text. */
function fieldText(text: Buffer, start: number, end: number, name: keyof typeof FIELD_KEYS): string | undefined {
  const key = FIELD_KEYS[name];
  const at = text.indexOf(key, start);
  if (at < 0 || at >= end) return undefined;
  const from = at + key.length;
  let to = text.indexOf(0x0a, from);
  if (to < 0 || to > end) to = end;
  if (text[to - 1] === 0x2c) to--; // (a following field's comma)
  return text.toString('utf8', from, to);
}

/**
 * The port lines of a printed plan (printJson's output of a PlanJson), in order; undefined when
 * the text is not such a plan. Ports are read as what they are; the prune lines after them are
 * not ports (origin null or action prune) and end the list.
 */
export function planLines(text: Buffer): PlanLine[] | undefined {
  const open = text.indexOf(PORTS_OPEN);
  if (open < 0) return text.includes('\n  "ports": []') ? [] : undefined;
  const out: PlanLine[] = [];
  let at = open + PORTS_OPEN.length;
  while (text.toString('latin1', at, at + 6) === '    {\n') {
    const close = text.indexOf(LINE_END, at);
    if (close < 0) return undefined;
    const end = close + LINE_END.length;
    try {
      const origin = JSON.parse(fieldText(text, at, end, 'origin') ?? 'null') as string | null;
      const action = JSON.parse(fieldText(text, at, end, 'action') ?? 'null') as PlanAction | 'prune' | null;
      if (typeof origin !== 'string' || action === null || action === 'prune') break;
      out.push(new PlanLine(text, at, end, origin, action));
    } catch {
      return undefined;
    }
    if (text[end] !== 0x2c) break;
    at = end + 2; // ",\n"
  }
  return out;
}

/**
 * printJson's output of a plan, with the lines carried from a kept plan copied as they were
 * printed: the same bytes as JSON.stringify(plan, null, 2) and a newline, as a list of parts (the
 * kept plan's lines are parts of its text, not copied into a new buffer: on a real tree that is
 * megabytes of memory touched for nothing). The plan is printed once with a marker string for
 * each carried line (no port is a string), and the lines are put in the markers' place.
 */
export function renderPlanJson(plan: PlanJson): Buffer[] {
  const carried: PlanLine[] = [];
  const ports = plan.ports.map((p) => (p instanceof PlanLine && carried.push(p) ? MARKER : p));
  const printed = Buffer.from(`${JSON.stringify({ ...plan, ports }, null, 2)}\n`);
  if (!carried.length) return [printed];
  const marker = `\n    ${JSON.stringify(MARKER)}`;
  const out: Buffer[] = [];
  let prev = 0;
  let run: { text: Buffer; start: number; end: number } | undefined;
  for (let from = printed.indexOf(PORTS_OPEN) + 1, i = 0; i < carried.length; i++) {
    const at = printed.indexOf(marker, from);
    if (from <= 0 || at < 0) return [Buffer.from(`${JSON.stringify(plan, null, 2)}\n`)]; // (cannot be: printed in full)
    const line = carried[i]!;
    // Lines carried one after the other, also in their kept text, are one part (with what is between them there).
    if (run && run.text === line.text && separated(printed, prev, at + 1) && separated(run.text, run.end, line.start)) run.end = line.end;
    else {
      if (run) out.push(run.text.subarray(run.start, run.end));
      out.push(printed.subarray(prev, at + 1));
      run = { text: line.text, start: line.start, end: line.end };
    }
    prev = at + marker.length;
    from = prev;
  }
  out.push(run!.text.subarray(run!.start, run!.end), printed.subarray(prev));
  return out;
}

/** Is what lies from `from` to `to` only what separates two port lines of a printed plan (a line begins with its indentation)? */
const separated = (b: Buffer, from: number, to: number) => to - from === 2 && b[from] === 0x2c && b[from + 1] === 0x0a; // ",\n"

/** What stands for a carried line while the plan is printed (a string no port line is). */
const MARKER = '\u0000carried';
