/**
 * Recording a plan's ports as built at their current inputs, without building them: what
 * adopting an existing package repository needs (and what benchmarks use to seed a database).
 * Ports are taken dependencies first, each dependency settled with the key it was just given,
 * so the keys are exactly those a real pass would have recorded.
 */
import { randomUUID } from 'node:crypto';
import type { SuccessInput } from '../builddb/types.js';
import type { PackageIdentity } from '../fingerprint/types.js';
import { decide, settleDependencies, type SettledDependency } from './decide.js';
import type { Plan } from './plan.js';

/** Success records for every buildable port of the plan (not ignored, not blocked). `packageOf` reads a port's package, when there is one. */
export function adoptionRecords(plan: Plan, packageOf: (origin: string, pkgfile: string) => PackageIdentity | null = () => null): (SuccessInput & { origin: string })[] {
  const settled = new Map<string, SettledDependency>();
  const out: (SuccessInput & { origin: string })[] = [];
  for (const p of plan.ports) {
    // A port whose metadata names no version or package cannot be recorded (its dependents then build).
    if (p.action === 'ignored' || p.action === 'blocked' || !p.keyParts || !p.crc || !p.pkgfile || !p.version || !p.pkgname) continue;
    const parts = settleDependencies(p.keyParts, settled);
    const d = decide({ parts, known: undefined, cascade: plan.cascade, pkgExists: true, pkgfile: p.pkgfile, forced: false });
    if (d.action !== 'build' || !d.key) continue;
    const pkg = packageOf(p.origin, p.pkgfile);
    settled.set(p.origin, { key: d.key, package: pkg ? { identity: pkg.identity, shlibs: pkg.shlibs } : null });
    out.push({ origin: p.origin, crc: p.crc, buildKey: d.key, keyParts: parts, version: p.version, buildId: randomUUID(), pkgfile: p.pkgfile, pkgname: p.pkgname, package: pkg });
  }
  return out;
}
