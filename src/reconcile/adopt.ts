/**
 * Recording a plan's ports as built at their current inputs, without building them: what
 * adopting an existing package repository needs (and what benchmarks use to seed a database).
 * Ports are taken dependencies first, each dependency settled with the key it was just given,
 * so the keys are exactly those a real pass would have recorded.
 */
import { join } from 'node:path';
import type { BuildDB } from '../builddb/db.js';
import { newId } from '../builddb/ids.js';
import type { PortSuccessInput } from '../builddb/types.js';
import type { DesiredState } from '../config/types.js';
import { packageIdentity } from '../fingerprint/packageIdentity.js';
import type { PackageIdentity } from '../fingerprint/types.js';
import { decide, settleDependencies, type SettledDependency } from './decide.js';
import { headCommit } from './git.js';
import { knownFromRows } from './known.js';
import { assertInClosure, observe, type Observation } from './observe.js';
import { orphanPackages, repositoryPackages, type OrphanPackage } from './orphans.js';
import { makePlan, type Plan } from './plan.js';

/** Success records for every buildable port of the plan (not ignored, not blocked). `packageOf` reads a port's package, when there is one. */
export function adoptionRecords(
  plan: Plan,
  packageOf: (origin: string, pkgfile: string) => PackageIdentity | null = () => null,
): PortSuccessInput[] {
  const settled = new Map<string, SettledDependency>();
  const out: PortSuccessInput[] = [];
  for (const p of plan.ports) {
    // A port whose metadata names no version or package cannot be recorded (its dependents then build).
    if (p.action === 'ignored' || p.action === 'blocked' || !p.keyParts || !p.crc || !p.pkgfile || !p.version || !p.pkgname) continue;
    const parts = settleDependencies(p.keyParts, settled);
    const d = decide({ parts, known: undefined, cascade: plan.cascade, pkgExists: true, pkgfile: p.pkgfile, forced: false });
    if (d.action !== 'build' || !d.key) continue;
    const pkg = packageOf(p.origin, p.pkgfile);
    settled.set(p.origin, { key: d.key, package: pkg ? { identity: pkg.identity, shlibs: pkg.shlibs } : null });
    out.push({
      origin: p.origin,
      crc: p.crc,
      buildKey: d.key,
      keyParts: parts,
      version: p.version,
      buildId: newId(),
      pkgfile: p.pkgfile,
      pkgname: p.pkgname,
      package: pkg,
    });
  }
  return out;
}

/** What `portsync adopt` did. */
export interface AdoptionReport {
  /** The run recorded (trigger `adopt`); null when nothing was adopted. */
  runId: string | null;
  adopted: { origin: string; pkgfile: string }[];
  /** Already recorded as built at their current inputs, package in place. */
  inSync: string[];
  /** Buildable ports whose package file is not in the repository: a pass builds them. */
  noPackage: { origin: string; pkgfile: string }[];
  /** IGNORE set: nothing to adopt. */
  ignored: string[];
  /** Ports not adopted although their package is there: why (ignored, blocked, a dependency not adopted). */
  notAdopted: { origin: string; reason: string }[];
  /** Packages in the repository of no port of the desired state. */
  orphans: OrphanPackage[];
}

export interface AdoptOptions {
  /** Only these ports and what they need (origins as written; checked against the closure). */
  only?: readonly string[];
  /** Reads a package's identity (default: packageIdentity); throws PackageUnreadableError. */
  identify?: (file: string) => PackageIdentity;
}

/**
 * Records every port of the desired state whose exact package file is in the repository as
 * built at its current inputs, in one transaction with a run of trigger `adopt`. A port is
 * adopted only when each of its dependencies is adopted or already in sync: a dependent recorded
 * against a dependency that is still to be built would name a package that does not exist.
 * The caller holds the pass lock and the database read-write.
 */
export async function adoptRepository(state: DesiredState, tree: string, db: BuildDB, opts: AdoptOptions = {}): Promise<AdoptionReport> {
  const identify = opts.identify ?? packageIdentity;
  const obs = await observe(state, { tree });
  assertInClosure(obs, opts.only ?? []);
  // Nothing is written before adoptPackages: these rows serve the plan and the orphans.
  const stateRows = await db.allPortState();
  const plan = makePlan(obs, { known: knownFromRows(stateRows) });
  const wanted = opts.only?.length ? new Set(plan.ports.filter((p) => inOnly(obs, opts.only!, p.origin)).map((p) => p.origin)) : undefined;
  const all = join(state.paths.packages, 'All');
  const files = new Set(repositoryPackages(state.paths.packages));
  const report: AdoptionReport = { runId: null, adopted: [], inSync: [], noPackage: [], ignored: [], notAdopted: [], orphans: [] };
  const settledOk = new Set<string>();
  for (const p of plan.ports) if (p.action === 'skip') settledOk.add(p.origin);
  // Identities are read once, in plan order; an unreadable package stops the adoption before anything is recorded.
  // Ports in sync are settled with their recorded package, as a pass sees them.
  const packageOf = (origin: string, pkgfile: string): PackageIdentity | null => {
    if (settledOk.has(origin)) {
      const k = plan.known.get(origin)?.package;
      return k ? { identity: k.identity, shlibs: k.shlibs, checksum: k.checksum ?? '' } : null;
    }
    return files.has(pkgfile) && (!wanted || wanted.has(origin)) ? identify(join(all, pkgfile)) : null;
  };
  const records = adoptionRecords(plan, packageOf);
  const byOrigin = new Map(records.map((r) => [r.origin, r]));
  const chosen: typeof records = [];
  for (const p of plan.ports) {
    if (wanted && !wanted.has(p.origin)) continue;
    if (p.action === 'skip') {
      report.inSync.push(p.origin);
      continue;
    }
    if (p.action === 'ignored') {
      report.ignored.push(p.origin);
      continue;
    }
    const r = byOrigin.get(p.origin);
    if (p.pkgfile && !files.has(p.pkgfile)) {
      report.noPackage.push({ origin: p.origin, pkgfile: p.pkgfile });
      continue;
    }
    if (!r || !r.package) {
      report.notAdopted.push({ origin: p.origin, reason: p.reasons[0]?.detail ?? `it is ${p.action}` });
      continue;
    }
    const missing = Object.keys(r.keyParts.dependencies).filter((d) => !settledOk.has(d));
    if (missing.length) {
      report.notAdopted.push({
        origin: p.origin,
        reason: `its dependenc${missing.length > 1 ? 'ies' : 'y'} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not adopted`,
      });
      continue;
    }
    settledOk.add(p.origin);
    chosen.push(r);
    report.adopted.push({ origin: p.origin, pkgfile: r.pkgfile });
  }
  const closure = [...obs.graph.nodes.values()].map((n) => ({
    origin: n.origin,
    pkgfile: n.port?.meta.pkgfile,
    suspended: obs.selected.get(n.origin)?.suspend ?? false,
  }));
  const recorded = stateRows.map((r) => ({ origin: r.origin, pkgfile: r.pkgfile, version: r.version }));
  report.orphans = orphanPackages(files, closure, recorded);
  if (chosen.length) {
    const gitCommit = await headCommit(tree);
    report.runId = await db.adoptPackages(
      { trigger: 'adopt', gitCommit, total: report.adopted.length + report.inSync.length, skipped: report.inSync.length },
      chosen,
    );
  }
  return report;
}

/** Whether `origin` is one of `only` or something one of them needs. */
function inOnly(obs: Observation, only: readonly string[], origin: string): boolean {
  const roots = only.map((o) => obs.scan.resolve(o) ?? o);
  return roots.includes(origin) || obs.graph.dependenciesOf(roots).has(origin);
}
