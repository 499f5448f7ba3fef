/** `portsync plan [--json] [ORIGIN...]`: exit 0 in sync, 1 work to do, 2 error. */
import { resolvePassSource } from '../reconcile/source.js';
import { planSummaryLine, type PlanJson } from '../reconcile/result-json.js';
import { beginPlanSnapshot, loadPlanSnapshot, savePlanSnapshot } from '../reconcile/plan-snapshot.js';
import type { DesiredState } from '../config/types.js';
import { daemonRequest } from '../client/request.js';
import { DaemonRequestError } from '../client/errors.js';
import { PortsyncError } from '../errors.js';
import { defineCommand, type CommandContext } from './command.js';
import { printJson, rememberJson, renderJson, type Io } from './io.js';
import type { StatRecords } from '../fingerprint/statRecords.js';

export const plan = defineCommand({
  name: 'plan',
  summary: 'what a reconcile would do, and why; builds nothing',
  args: [
    {
      name: 'ORIGIN',
      kind: 'origin',
      optional: true,
      repeat: true,
      description: "only these ports and what they need (each must be in the closure of builds.yaml's ports)",
    },
  ],
  options: { json: { description: "print the contract's plan document: ports (origin, pkgname, action, reasons, pkgfile…) and summary" } },
  description: `Reads the tree (through the metadata cache: an unchanged tree costs no make call), computes every port's build key and compares it with what the build database recorded: one line per port of the closure, dependencies first, with its action and why — build (new, port-changed, options-changed, framework-changed, dependency-changed, package-missing, forced), pending (rebuilds only if a rebuilt dependency's package changes), skip (up to date), ignored (IGNORE set), blocked (a failed build at these inputs, a missing, ignored or cyclic dependency) — then a summary line. Problems of the desired state (cycles, missing ports, globs matching nothing) and make's warnings go to stderr.

While portsync watch runs, the daemon answers (it has the tree and the database in memory).`,
  exits: [
    ['0', 'in sync: nothing to build'],
    ['1', 'work to do: a port to build, pending or blocked'],
    ['2', 'error: invalid builds.yaml, an ORIGIN not in the closure, an unreadable tree'],
  ],
  examples: [
    ['portsync plan', 'the whole desired state'],
    ['portsync plan --json textproc/gamma | jq .summary', 'textproc/gamma and its dependencies, as JSON'],
  ],
  run: (ctx, { values, args }) => showPlan(ctx, args, values.json ?? false),
});

/** `plan` (and `reconcile --dry-run`): the daemon's plan when one runs, else one made here; printed; its exit status. */
export async function showPlan(ctx: CommandContext, only: readonly string[], json: boolean): Promise<number> {
  const { state, tree } = await resolvePassSource(ctx.configFile);
  // A running daemon has the tree and the database in memory: it answers in a fraction of the time.
  const result = (await planFromDaemon(state.server.socket, only)) ?? (await planHere(state, tree, only));
  return printPlanResult(ctx.io, result, json);
}

/** Prints a plan (JSON or lines); exit 0 in sync, 1 work to do. */
export function printPlanResult(io: Io, result: PlanJson, json: boolean): number {
  if (json) printJson(io, result);
  else printPlan(io, result);
  const s = result.summary;
  return s.build > 0 || s.pending > 0 || s.blocked > 0 || (s.prune ?? 0) > 0 ? 1 : 0;
}

/**
 * A plan made in this process (or the kept one, when nothing it was made from changed); the
 * database read-only. `force`: as `reconcile --dry-run --force` (not kept: a forced plan is one-off).
 */
export async function planHere(
  state: DesiredState,
  tree: string,
  only: readonly string[],
  force: readonly string[] = [],
): Promise<PlanJson> {
  // The last standalone plan stands while nothing it was made from changed (plan-snapshot.ts).
  const snapshot = force.length ? undefined : beginPlanSnapshot(state, tree, only);
  const kept = snapshot && (await loadPlanSnapshot(snapshot));
  if (kept && 'plan' in kept) {
    rememberJson(kept.plan, kept.bytes);
    return kept.plan;
  }
  // Planning itself: loaded only now (the database driver, the scanner, the planner).
  const [
    { openClient, locatedOf },
    { assertInClosure, observe },
    { makePlanReadingParts },
    { planJson },
    { recordScanInputs },
    { observeFromKept, keptObservation },
  ] = await Promise.all([
    import('../client/index.js'),
    import('../reconcile/observe.js'),
    import('../reconcile/plan.js'),
    import('../reconcile/result-json.js'),
    import('../ports/scanner.js'),
    import('../reconcile/kept-observation.js'),
  ]);
  // Opened meanwhile (the database's own threads): a plan from the kept one may need it only for a few ports' key parts.
  const opening = openClient(locatedOf(state));
  opening.catch(() => {}); // (awaited below)
  try {
    // Only some ports' files changed since the kept plan: those ports are read again, the rest is the kept plan's.
    // (Not for a plan of some origins: those are resolved as written, which the kept observation cannot do.)
    const keptPlan = kept && !only.length ? kept.kept() : undefined;
    const start = kept && keptPlan ? await observeFromKept(state, tree, keptPlan, kept.changes) : undefined;
    // The database's query runs on its own threads while this one reads the tree.
    // (Without the recorded key parts: the few ports whose decision compares them are read after.)
    const known = start ? Promise.resolve(start.known) : opening.then((h) => h.knownWithoutParts());
    known.catch(() => {}); // (awaited below; a failed observe must not leave it unhandled)
    // What the kept plan's check found unchanged is not stat'ed again.
    const obs = start?.observation ?? (await observe(state, { tree, ...(kept ? { trusted: kept.changes } : {}) }));
    assertInClosure(obs, [...only, ...force]);
    const forced = new Set(force.map((o) => obs.scan.resolve(o) ?? o));
    const options = {
      known: await known,
      only: new Set(only),
      ...(forced.size ? { force: forced } : {}),
      ...(start ? { carried: start.carried } : {}),
    };
    const readParts = async (origins: readonly string[]) => (await opening).knownOf(origins);
    const plan = planJson(await makePlanReadingParts(obs, options, readParts));
    const bytes = renderJson(plan);
    // (A daemon that came up meanwhile holds the database: what it knew is not on disk to check.)
    // (A file changed within the racy second is not trusted by its stat data: such a plan is not kept.)
    if (snapshot && (await opening).via !== 'daemon' && !(kept && kept.racy)) {
      const records = start?.recordInputs ?? ((out: StatRecords) => recordScanInputs(obs.scan, out));
      savePlanSnapshot(snapshot, records, { summary: plan.summary, bytes }, start?.keep ?? (() => keptObservation(obs, options.known)));
    }
    return plan;
  } finally {
    await (await opening.catch(() => undefined))?.close();
  }
}

/** The daemon's plan (GET /plan), or undefined when no daemon answers on the socket. */
async function planFromDaemon(socket: string, only: readonly string[]): Promise<PlanJson | undefined> {
  const path = `/plan${only.length ? `?${only.map((o) => `origin=${encodeURIComponent(o)}`).join('&')}` : ''}`;
  const r = await daemonRequest(socket, 'GET', path, undefined, { connectTimeoutMs: 1000 });
  if (!r) return undefined;
  const error = (r.body as { error?: string } | null)?.error;
  if (r.status === 400 && error) throw new PlanRequestError(error);
  if (r.status !== 200) throw new DaemonRequestError(socket, path, r.status, error ?? JSON.stringify(r.body));
  return r.body as PlanJson;
}

export function printPlan(io: Io, plan: PlanJson): void {
  for (const w of plan.configWarnings) io.err(`warning: ${w}`);
  for (const w of plan.warnings) io.err(`warning: ${w.origin}: make printed on stderr: ${w.lines.join(' | ')}`);
  for (const p of plan.problems) io.err(`error: ${p}`);
  for (const p of plan.ports) {
    const why = p.reasons.map((r) => r.detail).join('; ');
    // A package to prune is named by its file, and by its port when one is known.
    const what =
      p.action === 'prune' ? `${p.pkgfile}${p.origin ? ` (${p.origin})` : ''}` : `${p.origin}${p.pkgname ? ` (${p.pkgname})` : ''}`;
    io.out(`${p.action.padEnd(7)} ${what}${why ? ` — ${why}` : ''}`);
  }
  io.out(planSummaryLine(plan.summary));
}

/** The daemon refused the plan request (an origin not in the desired state, an invalid builds.yaml). */
export class PlanRequestError extends PortsyncError {}
