/** `portsync plan [--json] [ORIGIN...]`: exit 0 in sync, 1 work to do, 2 error. */
import { resolvePassSource } from '../reconcile/source.js';
import { planSummaryLine, type PlanJson } from '../reconcile/result-json.js';
import {
  beginPlanSnapshot,
  loadPlanSnapshot,
  savePlanSnapshot,
  type ChangeFound,
  type KeptObservation,
} from '../reconcile/plan-snapshot.js';
import type { KeptRead, Rereading } from '../reconcile/kept-observation.js';
import type { DesiredState } from '../config/types.js';
import { daemonRequest } from '../client/request.js';
import { DaemonRequestError } from '../client/errors.js';
import { PortsyncError } from '../errors.js';
import { defineCommand, type CommandContext } from './command.js';
import { printJson, rememberJson, type Io } from './io.js';
import { StatThread, type StatRecords } from '../fingerprint/statRecords.js';
import type { Client } from '../client/index.js';
import type { MakeSettings } from '../ports/make.js';

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
  // The kept plan's check thread, started first: it is ready when builds.yaml is read (a thread
  // takes a tenth of a second or more to start), and takes runs of the check as this one does.
  const thread = new StatThread();
  try {
    const { state, tree } = await resolvePassSource(ctx.configFile);
    // A running daemon has the tree and the database in memory: it answers in a fraction of the time.
    const result = (await planFromDaemon(state.server.socket, only)) ?? (await planHere(state, tree, only, [], { thread }));
    return printPlanResult(ctx.io, result, json);
  } finally {
    thread.close();
  }
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
  /** As beginPlanSnapshot's: the check's second thread, and (a test splits a small tree's check as a real tree's is) `minPerThread`. */
  opts: { minPerThread?: number; thread?: StatThread } = {},
): Promise<PlanJson> {
  // Planning itself (the scanner, the planner), for when the kept plan does not stand.
  const loadPlanning = () =>
    Promise.all([
      import('../reconcile/observe.js'),
      import('../reconcile/plan.js'),
      import('../reconcile/result-json.js'),
      import('../ports/scanner.js'),
      import('../reconcile/kept-observation.js'),
      import('../ports/make.js'),
    ]);
  // Loaded from now on: its files are read meanwhile, and compiled while this thread waits for the
  // other one's part of the kept plan's check (a kept plan that stands is printed without it).
  const planning = loadPlanning();
  planning.catch(() => {}); // (awaited below)
  let settings: MakeSettings | undefined;
  // Files changed since the kept plan: make reads some ports again. Once a change is found (while
  // the check goes on), who reads the tree is checked and the make runner started (a few tenths
  // of a second).
  const warm = ([{ makeSettingsOf }, , , , , { warmMakeRunner }]: Awaited<typeof planning>) => {
    if (settings) return settings;
    settings = makeSettingsOf(state, tree);
    warmMakeRunner(settings);
    return settings;
  };
  // The kept observation and decisions, read, with the make calls of the ports that `changed`
  // touch begun first: they run while the rest is read.
  const readKeptPlan = async (
    { keptStored, readKept, rereadTouched }: Awaited<typeof planning>[4],
    k: { plan: Buffer; observation: KeptObservation },
    changed: readonly string[],
    made: MakeSettings,
  ): Promise<{ kept: KeptRead | undefined; begun: Rereading | undefined }> => {
    const stored = keptStored(k.observation);
    const begun = stored && rereadTouched(stored, tree, changed, made);
    // (The make calls are sent before the rest is read: they run meanwhile.)
    if (begun) await new Promise(setImmediate);
    return { kept: stored && readKept(state, tree, stored, k.plan), begun };
  };
  // Read while the check's other thread goes on, with the changes found so far (most often, all
  // that will be found). (Not for a plan of some origins: those are resolved as written, which
  // the kept observation cannot do.)
  let read: ReturnType<typeof readKeptPlan> | undefined;
  const readMeanwhile = async ({ kept, foundSoFar }: ChangeFound) => {
    const modules = await planning;
    const made = warm(modules);
    // (The runner starts once who reads the tree is known: that check ends before the kept plan is read, so the runner starts meanwhile.)
    await modules[5].checkReader(made).catch(() => {});
    const k = only.length ? undefined : kept();
    read = k ? readKeptPlan(modules[4], k, foundSoFar(), made) : Promise.resolve({ kept: undefined, begun: undefined });
    await read;
  };
  // The last standalone plan stands while nothing it was made from changed (plan-snapshot.ts).
  const snapshot = force.length ? undefined : beginPlanSnapshot(state, tree, only, opts);
  const kept = snapshot && (await loadPlanSnapshot(snapshot, { onChange: readMeanwhile }));
  if (kept && 'plan' in kept) {
    rememberJson(kept.plan, kept.bytes);
    return kept.plan;
  }
  const [
    { assertInClosure, observe, makeSettingsOf },
    { makePlanReadingParts },
    { planJson, renderPlanJson },
    { recordScanInputs },
    keptModule,
  ] = await planning;
  const { observeFromKept, keptObservation } = keptModule;
  if (kept) warm(await planning);
  settings ??= makeSettingsOf(state, tree);
  let opening: Promise<Client> | undefined;
  const open = () => {
    // (The driver too is loaded only now: about 0.1 s of one thread.)
    opening ??= import('../client/index.js').then(({ openClient, locatedOf }) => openClient(locatedOf(state)));
    opening.catch(() => {}); // (awaited where used)
    return opening;
  };
  try {
    // Only some ports' files changed since the kept plan: those ports are read again, the rest is the kept plan's.
    // (Read while the check went on, or now: a check on one thread calls for nothing meanwhile.)
    const keptPlan = kept && !only.length ? kept.kept() : undefined;
    if (kept && keptPlan) read ??= readKeptPlan(keptModule, keptPlan, [...kept.changes.changed], settings);
    const { kept: keptRead, begun } = (await read) ?? {};
    // Without a kept plan the database is opened now (its own threads): the query runs while this one reads the tree.
    // From the kept plan it is needed only for some ports' key parts (a version bump's dependents), if at all.
    if (!keptRead) void open();
    const start = kept && keptRead ? await observeFromKept(keptRead, tree, kept.changes, settings, begun) : undefined;
    // (Without the recorded key parts: the few ports whose decision compares them are read after.)
    const known = start ? Promise.resolve(start.carried.known) : open().then((h) => h.knownWithoutParts());
    known.catch(() => {}); // (awaited below; a failed observe must not leave it unhandled)
    // What the kept plan's check found unchanged is not stat'ed again.
    const obs = start?.observation ?? (await observe(state, { tree, settings, ...(kept ? { trusted: kept.changes } : {}) }));
    assertInClosure(obs, [...only, ...force]);
    const forced = new Set(force.map((o) => obs.scan.resolve(o) ?? o));
    const options = {
      known: await known,
      only: new Set(only),
      ...(forced.size ? { force: forced } : {}),
      ...(start ? { carried: start.carried } : {}),
    };
    const readParts = async (origins: readonly string[]) => (await open()).knownOf(origins);
    const made = await makePlanReadingParts(obs, options, readParts);
    const plan = planJson(made);
    // (Printed as made: the lines carried from the kept plan are copied as they were printed.)
    const bytes = renderPlanJson(plan);
    rememberJson(plan, bytes);
    // (A daemon that came up meanwhile holds the database: what it knew is not on disk to check.
    // A plan from the kept one that never opened it knew what the kept plan knew, checked on disk.)
    // (A file changed within the racy second is not trusted by its stat data: such a plan is not kept.)
    const viaDaemon = opening ? (await opening).via === 'daemon' : false;
    if (snapshot && !viaDaemon && !(kept && kept.racy)) {
      const records = start?.recordInputs ?? ((out: StatRecords) => recordScanInputs(obs.scan, out));
      const keep = start ? () => start.keep(made.known) : () => keptObservation(obs, made.known);
      savePlanSnapshot(snapshot, records, { summary: plan.summary, bytes }, keep);
    }
    return plan;
  } finally {
    await (await opening?.catch(() => undefined))?.close();
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
