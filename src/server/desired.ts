/**
 * Status as desired versus actual: for every port of the desired state (the closure of
 * builds.yaml's ports), what it is now — in sync, drifted (a pass would build it), pending,
 * building, failed (with the failing phase and log), blocked (by what), ignored or suspended —
 * and the repository's packages of no desired port (orphans). Made from a plan (what a pass would
 * do now), the outcomes of the pass that follows that plan when there is one (the daemon's), and
 * the build database's rows (a failure's phase and log).
 */
import type { Reason } from '../reconcile/decide.js';
import { orphanPackages, repositoryPackages, type OrphanPackage } from '../reconcile/orphans.js';
import type { PortStatus } from './queries.js';
import { passEta, type PassEta } from './eta.js';
import type { TrackedPass } from './passTracker.js';

export type DesiredPortState = 'in-sync' | 'drifted' | 'pending' | 'building' | 'failed' | 'blocked' | 'ignored' | 'suspended';
export const DESIRED_PORT_STATES: readonly DesiredPortState[] = [
  'in-sync',
  'drifted',
  'pending',
  'building',
  'failed',
  'blocked',
  'ignored',
  'suspended',
];

/** A port of a plan, as the plan (or its JSON) has it. */
export interface PlanPortView {
  origin: string | null;
  pkgname: string;
  version: string;
  action: string;
  reasons: readonly Reason[];
  pkgfile?: string | null;
  waitingOn?: readonly string[];
  suspended?: boolean;
}

/** What a pass said of a port (PortOutcome's fields that matter here). */
export interface OutcomeView {
  status: 'success' | 'failed' | 'skipped' | 'ignored' | 'blocked' | 'interrupted';
  reason: string;
  lastPhase?: string;
  logPath?: string;
  error?: string;
  buildId?: string;
}

export interface DesiredPort {
  origin: string;
  pkgname: string;
  version: string;
  pkgfile: string | null;
  state: DesiredPortState;
  /** Why, in words. */
  detail: string;
  /** blocked: the dependencies (or cycle members) in the way; pending: the dependencies whose packages decide. */
  blockedBy?: string[];
  waitingOn?: string[];
  /** failed: the phase that failed, its log and error; building: the phase running. */
  phase?: string | null;
  log?: string | null;
  error?: string | null;
}

export type DesiredSummary = Record<DesiredPortState, number> & { total: number; orphans: number };

export interface DesiredStatus {
  /** plan: what a pass would do now (no pass running); pass: the plan of the daemon's current or last pass and its outcomes. */
  basis: 'plan' | 'pass';
  ports: DesiredPort[];
  /** Packages of no desired port; with policy.prune a pass removes them. */
  orphans: OrphanPackage[];
  prune: boolean;
  summary: DesiredSummary;
}

export interface DesiredInputs {
  basis: DesiredStatus['basis'];
  ports: readonly PlanPortView[];
  /** The database's per-port rows (portStatuses), for failures' phases and logs and the recorded packages. */
  rows: readonly PortStatus[];
  /** The repository (paths.packages, with All/ in it). */
  repository: string;
  prune: boolean;
  outcomes?: ReadonlyMap<string, OutcomeView>;
  /** Ports being built now, with their phase. */
  building?: ReadonlyMap<string, string>;
  /** Only these origins in `ports` (the closure is still the whole plan's, for orphans). */
  only?: readonly string[];
}

const reasonText = (reasons: readonly Reason[]) => reasons.map((r) => r.detail).join('; ');

function fromPlan(p: PlanPortView, row: PortStatus | undefined): Omit<DesiredPort, 'origin' | 'pkgname' | 'version' | 'pkgfile'> {
  const first = p.reasons[0];
  if (p.suspended || first?.kind === 'suspended')
    return { state: 'suspended', detail: reasonText(p.reasons) || 'suspended in builds.yaml' };
  switch (p.action) {
    case 'skip':
      return { state: 'in-sync', detail: p.reasons.some((r) => r.kind === 'cutoff') ? reasonText(p.reasons) : 'up to date' };
    case 'build':
      return { state: 'drifted', detail: reasonText(p.reasons) };
    case 'pending':
      return { state: 'pending', detail: reasonText(p.reasons), ...(p.waitingOn ? { waitingOn: [...p.waitingOn] } : {}) };
    case 'ignored':
      return { state: 'ignored', detail: reasonText(p.reasons) };
  }
  if (first?.kind === 'failed') {
    const failedBuild = row?.lastStatus === 'failed';
    return {
      state: 'failed',
      detail: first.detail,
      phase: failedBuild ? row.lastPhase : null,
      log: failedBuild ? row.log : null,
      error: failedBuild ? row.lastError : null,
    };
  }
  return { state: 'blocked', detail: first?.root ?? reasonText(p.reasons), blockedBy: first?.items ? [...first.items] : [] };
}

function fromOutcome(o: OutcomeView, suspended: boolean): Omit<DesiredPort, 'origin' | 'pkgname' | 'version' | 'pkgfile'> | undefined {
  switch (o.status) {
    case 'success':
    case 'skipped':
      return suspended
        ? { state: 'suspended', detail: 'suspended in builds.yaml: kept as is' }
        : { state: 'in-sync', detail: o.status === 'success' ? 'built in this pass' : 'up to date' };
    case 'failed':
      return { state: 'failed', detail: o.error ?? o.reason, phase: o.lastPhase ?? null, log: o.logPath ?? null, error: o.error ?? null };
    case 'interrupted':
      return { state: 'drifted', detail: 'its build was interrupted: the next pass builds it' };
    default:
      return undefined; // blocked and ignored: the plan says by what, unless the pass found it out
  }
}

export function desiredStatus(input: DesiredInputs): DesiredStatus {
  const rows = new Map(input.rows.map((r) => [r.origin, r]));
  const only = input.only?.length ? new Set(input.only) : undefined;
  const closure = input.ports.filter((p): p is PlanPortView & { origin: string } => p.action !== 'prune' && p.origin !== null);
  const ports: DesiredPort[] = [];
  for (const p of closure) {
    if (only && !only.has(p.origin)) continue;
    const base = { origin: p.origin, pkgname: p.pkgname, version: p.version, pkgfile: p.pkgfile ?? null };
    const phase = input.building?.get(p.origin);
    const o = input.outcomes?.get(p.origin);
    const suspended = p.suspended === true || p.reasons[0]?.kind === 'suspended';
    let s =
      phase !== undefined
        ? { state: 'building' as const, detail: `building (${phase})`, phase }
        : o
          ? fromOutcome(o, suspended)
          : undefined;
    // A port the pass found blocked (a dependency failed in it) that its plan meant to build.
    if (!s && o?.status === 'blocked' && (p.action === 'build' || p.action === 'pending'))
      s = { state: 'blocked', detail: o.reason, blockedBy: [] };
    ports.push({ ...base, ...(s ?? fromPlan(p, rows.get(p.origin))) });
  }
  const recorded = input.rows.map((r) => ({ origin: r.origin, pkgfile: r.pkgfile, version: r.version }));
  const orphans = orphanPackages(
    repositoryPackages(input.repository),
    closure.map((p) => ({ origin: p.origin, pkgfile: p.pkgfile ?? null, suspended: p.suspended ?? false })),
    recorded,
  );
  const summary = Object.fromEntries(DESIRED_PORT_STATES.map((s) => [s, 0])) as DesiredSummary;
  for (const p of ports) summary[p.state]++;
  summary.total = ports.length;
  summary.orphans = orphans.length;
  return { basis: input.basis, ports, orphans, prune: input.prune, summary };
}

/** The daemon's answer: the current (or last) pass's plan and outcomes, what is building now, and the ETA of a running pass. */
export function passDesired(
  pass: TrackedPass,
  rows: readonly PortStatus[],
  building: readonly { origin: string; phase: string; since: string }[],
  only: readonly string[],
): { desired: DesiredStatus; eta: PassEta | null } {
  const buildingNow = new Map(pass.running ? building.map((b) => [b.origin, b.phase]) : []);
  const desired = desiredStatus({
    basis: 'pass',
    ports: pass.plan.ports,
    rows,
    repository: pass.state.paths.packages,
    prune: pass.state.policy.prune,
    outcomes: pass.outcomes,
    building: buildingNow,
    only,
  });
  let eta: PassEta | null = null;
  if (pass.running && pass.durations) {
    const queued = pass.plan.ports
      .filter((p) => p.action === 'build' && !pass.outcomes.has(p.origin) && !buildingNow.has(p.origin))
      .map((p) => p.origin);
    eta = passEta(queued, pass.running ? building : [], pass.durations, pass.state.workers);
  }
  return { desired, eta };
}
