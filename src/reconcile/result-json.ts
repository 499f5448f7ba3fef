/** The contract's `reconcile --json` document for a pass (also the daemon's POST /reconcile answer). */
import type { PassResult } from './pass.js';

export function reconcileJson(r: PassResult) {
  return {
    runId: r.runId,
    gitCommit: r.gitCommit,
    status: r.status,
    stats: r.stats,
    ports: r.ports.map((p) => ({
      origin: p.origin, pkgname: p.pkgname, version: p.version, status: p.status, buildId: p.buildId ?? null, reason: p.reason,
      ...(p.error ? { error: p.error } : {}), ...(p.lastPhase ? { lastPhase: p.lastPhase } : {}), ...(p.durationMs !== undefined ? { durationMs: p.durationMs } : {}),
      ...(p.logPath ? { log: p.logPath } : {}),
    })),
    problems: r.plan.problems,
  };
}

export type ReconcileJson = ReturnType<typeof reconcileJson>;
