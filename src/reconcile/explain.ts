/**
 * "Why does this port (not) rebuild?": the plan's decision for one port, the parts of its
 * build key that differ from its last good build, and — in a git tree — the files that
 * changed and the commits that touched them.
 */

import { dependencyToken, diffKeyParts, reasonKindOf, type KeyPartChange } from '../fingerprint/buildKey.js';
import type { BuildKeyParts, Cascade } from '../fingerprint/types.js';
import { changesSince, type CommitInfo } from './git.js';
import type { KnownPortState, Plan, PlannedPort } from './plan.js';
import { recordedParts } from './decide.js';

export interface Explanation {
  origin: string;
  action: PlannedPort['action'];
  reasons: PlannedPort['reasons'];
  lastGood: LastGoodBuild | null;
  changes: (KeyPartChange & { files?: string[]; commits?: CommitInfo[] })[];
  /** Dependencies rebuilt since this port's last build whose result did not count as a change (early cutoff). */
  cutoffs: string[];
}

/** The port's last successful build, as the build history knows it, with the commit of the run that built it. */
export interface LastGoodBuild {
  buildId: string;
  finishedAt: string | null;
  version: string | null;
  gitCommit: string | null;
}

export async function explain(
  plan: Plan,
  origin: string,
  known: ReadonlyMap<string, KnownPortState>,
  lastGoodOf: (origin: string) => Promise<LastGoodBuild | null>,
): Promise<Explanation | undefined> {
  const canonical = plan.observation.scan.resolve(origin) ?? origin;
  const p = plan.ports.find((x) => x.origin === canonical);
  if (!p) return undefined;
  const before = known.get(canonical);
  const lastGood = await lastGoodOf(canonical);
  const recorded = recordedParts(before);
  const changes: Explanation['changes'] = recorded && p.keyParts ? diffKeyParts(recorded, p.keyParts, plan.cascade) : [];
  const tree = plan.observation.tree;
  const meta = plan.observation.graph.nodes.get(canonical)?.port?.meta;
  if (lastGood?.gitCommit) {
    for (const c of changes) {
      const paths = c.part === 'port' && meta ? [meta.dir] : c.part === 'makefiles' ? (c.items ?? []) : [];
      if (!paths.length) continue;
      const found = await changesSince(tree, lastGood.gitCommit, paths);
      c.files = found.files;
      c.commits = found.commits;
    }
  }
  const cutoffs = recorded && p.keyParts ? cutoffsSince(recorded, p.keyParts, plan.cascade) : [];
  return { origin: canonical, action: p.action, reasons: p.reasons, lastGood, changes, cutoffs };
}

/** Dependencies whose build key changed since `old` while what counts of them under `cascade` did not. */
function cutoffsSince(old: BuildKeyParts, cur: BuildKeyParts, cascade: Cascade): string[] {
  const out: string[] = [];
  for (const [origin, now] of Object.entries(cur.dependencies)) {
    const then = old.dependencies[origin];
    if (typeof now === 'string' || typeof then !== 'object' || now.pending || !then.key || now.key === then.key) continue;
    const same = dependencyToken(then, cascade) === dependencyToken(now, cascade);
    if (!same) continue;
    const what =
      cascade === 'output'
        ? now.use === 'build'
          ? 'its package is identical'
          : `same version ${now.version}`
        : cascade === 'version'
          ? `same version ${now.version}${now.lib ? ' and shared libraries' : ''}`
          : 'policy.cascade is none';
    out.push(`dependency ${origin} was rebuilt (or its inputs changed) since this port's last build, but ${what}: not a reason to rebuild`);
  }
  return out.sort();
}

export function formatExplanation(e: Explanation): string[] {
  const out: string[] = [];
  const verdict = {
    build: 'would rebuild',
    skip: 'is up to date',
    pending: "is pending: it rebuilds only if a dependency's result changes",
    ignored: 'is ignored',
    blocked: 'is blocked',
  }[e.action];
  out.push(`${e.origin} ${verdict}`);
  if (e.lastGood)
    out.push(
      `  last good build: ${e.lastGood.buildId} (${e.lastGood.version ?? '?'}, ${e.lastGood.finishedAt ?? '?'}${e.lastGood.gitCommit ? `, commit ${e.lastGood.gitCommit.slice(0, 12)}` : ''})`,
    );
  else out.push('  no successful build recorded');
  const explained = new Set(e.changes.map((c) => c.detail));
  for (const r of e.reasons) if (!explained.has(r.detail)) out.push(`  ${r.kind}: ${r.detail}`);
  for (const c of e.changes) {
    out.push(`  ${reasonKindOf(c)}: ${c.detail}`);
    for (const f of c.files ?? []) out.push(`      file ${f}`);
    for (const k of c.commits ?? []) out.push(`      commit ${k.sha} ${k.date} ${k.author}: ${k.subject}`);
  }
  for (const c of e.cutoffs) out.push(`  cutoff: ${c}`);
  return out;
}
