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
      ...plan.ports.map((p) => ({
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
      })),
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
