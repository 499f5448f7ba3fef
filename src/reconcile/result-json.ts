/** The contract's `reconcile --json` document for a pass (also the daemon's POST /reconcile answer). */
import type { PassResult } from './passResult.js';
import type { Plan } from './plan.js';

// Computed once per pass: the summary lists and the daemon's status both use it (10,000 ports on a real tree).
const made = new WeakMap<PassResult, ReturnType<typeof makeJson>>();

export function reconcileJson(r: PassResult): ReturnType<typeof makeJson> {
  let json = made.get(r);
  if (!json) made.set(r, (json = makeJson(r)));
  return json;
}

function makeJson(r: PassResult) {
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

export type ReconcileJson = ReturnType<typeof makeJson>;

/** The contract's `plan --json` document (also the daemon's GET /plan answer). */
export function planJson(plan: Plan) {
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
        ...(p.waitingOn ? { waitingOn: p.waitingOn } : {}),
        ...(p.buildKey ? { buildKey: p.buildKey } : {}),
        ...(p.crc ? { crc: p.crc } : {}),
        ...(p.suspended ? { suspended: true } : {}),
      })),
      // What a pass would prune (policy.prune): package files, each named by the port it was of (null: none known).
      ...plan.prune.map((o) => ({
        origin: o.origin,
        pkgname: o.pkgname,
        action: 'prune' as const,
        reasons: [{ kind: 'orphan' as const, detail: o.reason }],
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

export type PlanJson = ReturnType<typeof planJson>;
