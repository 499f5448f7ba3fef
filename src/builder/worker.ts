/**
 * The Piscina task: build one port in a fresh environment. Runs in a worker thread; the
 * commands themselves run in child processes the environment can kill as a whole tree.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PortsyncError } from '../errors.js';
import { packageIdentity } from '../fingerprint/packageIdentity.js';
import type { PackageIdentity } from '../fingerprint/types.js';
import { publishPackage } from './publish.js';
import { environmentBackend } from './sandbox/index.js';
import { EnvironmentSetupError } from './sandbox/errors.js';
import type { BuildEnvironment } from './sandbox/types.js';
import { BuildLog } from './log.js';
import { INSTALL_DEPS_PHASE, distinfoArgv, installPackagesScript, phaseArgv, phaseEnvironment, type MakeCall } from './phases.js';
import { parseDistinfo, publishDistfiles, seedDistfiles, type DistinfoEntry } from './distfiles.js';
import { BUILD_GID, BUILD_UID } from '../config/buildUser.js';
import { describeLimits, envResources, formatSize, type BuildTask, type BuildTaskResult, type TaskEvent } from './task.js';

type Outcome = Omit<BuildTaskResult, 'durationMs' | 'lastPhase'>;

/** What tools print when the machine, not the port, failed (strerror texts of ENOSPC, EROFS, EMFILE/ENFILE, ENOMEM, EDQUOT). */
const ENVIRONMENT_FAULTS =
  /No space left on device|Read-only file system|Too many open files( in system)?|Cannot allocate memory|Disk quota exceeded/;

export default async function buildPort(task: BuildTask): Promise<BuildTaskResult> {
  const t0 = performance.now();
  const abort = new AbortController();
  task.port.on('message', (m: { type?: string }) => {
    if (m?.type === 'cancel') abort.abort();
  });
  const log = new BuildLog(task.logPath);
  log.header({
    origin: task.origin,
    version: task.version,
    pkgname: task.pkgname,
    'build id': task.buildId,
    'build key': task.buildKey,
    backend: task.backend,
    slot: String(task.slot),
  });
  const progress = { lastPhase: 'setup' };
  let env: BuildEnvironment | undefined;
  let outcome: Outcome;
  try {
    env = await environmentBackend(task.backend).create(task.slot, task.paths, envResources(task.limits));
    log.line(`portsync: environment ${env.id}: ${describeLimits(task.limits, task.backend)}`);
    outcome = await runSteps(task, env, log, abort.signal, progress);
    const usage = env.usage?.();
    if (usage) outcome = { ...outcome, usage };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    log.line(`portsync: ${message}`);
    outcome = {
      status: abort.signal.aborted ? 'interrupted' : 'failed',
      error: message,
      transient: e instanceof EnvironmentSetupError || !(e instanceof PortsyncError),
    };
  }
  try {
    await env?.destroy();
  } catch (e) {
    log.line(`portsync: cleanup of ${env?.root}: ${(e as Error).message}`);
  }
  const durationMs = Math.round(performance.now() - t0);
  log.close(
    outcome.status === 'failed' ? `failed in ${progress.lastPhase}${outcome.error ? `: ${outcome.error}` : ''}` : outcome.status,
    durationMs,
  );
  task.port.close();
  return { ...outcome, lastPhase: progress.lastPhase, durationMs };
}

async function runSteps(
  task: BuildTask,
  env: BuildEnvironment,
  log: BuildLog,
  signal: AbortSignal,
  progress: { lastPhase: string },
): Promise<Outcome> {
  const send = (e: TaskEvent) => task.port.postMessage(e);
  const inside = env.inside;
  // make.env may name files in the host's tree (MAKESYSPATH): inside, the tree is elsewhere.
  const make = {
    ...task.make,
    env: Object.fromEntries(
      Object.entries(task.make.env).map(([k, v]) => [
        k,
        v.startsWith(task.paths.portsTree) ? inside.portsTree + v.slice(task.paths.portsTree.length) : v,
      ]),
    ),
  };
  const environment = phaseEnvironment(inside, make);
  const steps: { phase: string; argv: string[] }[] = [];
  if (task.installs.length)
    steps.push({ phase: INSTALL_DEPS_PHASE, argv: ['/bin/sh', '-c', installPackagesScript(inside, task.installs)] });
  for (const phase of task.phases) steps.push({ phase, argv: phaseArgv(inside, make, task.dir, task.flavor, phase) });
  /** The port's distinfo, when the environment's DISTDIR is private (read before the first make phase). */
  let dist: { entries: DistinfoEntry[]; seeded: Map<string, { dev: number; ino: number }> } | undefined;
  for (const step of steps) {
    if (env.privateDistfiles && !dist && step.phase !== INSTALL_DEPS_PHASE) {
      const got = await prepareDistfiles(task, env, make, environment, log, signal);
      if (got === 'interrupted') return { status: 'interrupted', error: 'interrupted' };
      dist = got;
    }
    progress.lastPhase = step.phase;
    const startedAt = new Date().toISOString();
    send({ type: 'phase-start', phase: step.phase, at: startedAt });
    log.phaseStart(step.phase);
    log.line(`$ ${step.argv.join(' ')}`);
    const network = task.limits.network === 'always' || (task.limits.network === 'fetch-only' && step.phase === 'fetch');
    // Installing dependencies writes LOCALBASE, as root (without capabilities); every make phase,
    // fetch included, runs as the unprivileged build user (fetch into its private DISTDIR).
    const unprivileged = step.phase !== INSTALL_DEPS_PHASE;
    const oomBefore = env.usage?.()?.oomKills ?? 0;
    const r = await env.run({
      argv: step.argv,
      env: environment,
      log: log.fd,
      timeoutMs: task.limits.phaseTimeoutMs,
      noOutputTimeoutMs: task.limits.noOutputTimeoutMs,
      signal,
      network,
      unprivileged,
    });
    const exitCode = r.exitCode ?? 128;
    const note = r.aborted
      ? 'interrupted'
      : r.timedOut === 'phase'
        ? `killed: phase time limit (${task.limits.phaseTimeoutMs} ms)`
        : r.timedOut === 'no-output'
          ? `killed: no output for ${task.limits.noOutputTimeoutMs} ms`
          : r.signal
            ? `killed by ${r.signal}`
            : '';
    log.phaseEnd(step.phase, r.exitCode, r.durationMs, note);
    send({ type: 'phase-end', phase: step.phase, startedAt, durationMs: Math.round(r.durationMs), exitCode });
    // What fetch got and distinfo vouches for goes into the shared cache, whatever its exit status.
    if (step.phase === 'fetch' && dist && env.privateDistfiles && !r.aborted) await publishFetched(task, env.privateDistfiles, dist, log);
    if (r.aborted) return { status: 'interrupted', error: 'interrupted' };
    if (exitCode !== 0) {
      // Killed by its memory limit: the limit's doing, not its inputs' (raising the limit changes no build key): retried, not marked.
      if ((env.usage?.()?.oomKills ?? 0) > oomBefore) {
        const why = task.limits.memoryBytes
          ? `killed by the memory limit (${formatSize(task.limits.memoryBytes)}); raise limits.memory, or this port's own in its ports entry (limits: { memory: … })`
          : "killed for lack of memory (no limits.memory is set: the machine, or a cgroup above portsync's, ran out); free memory or lower workers";
        return { status: 'failed', error: `${step.phase} exited ${exitCode}: ${why}; the next pass retries it`, transient: true };
      }
      // A full disk, a read-only or exhausted system is the machine's fault, not the port's: retried, not marked.
      const fault = ENVIRONMENT_FAULTS.exec(log.tail())?.[0];
      if (fault)
        return {
          status: 'failed',
          error: `${step.phase} exited ${exitCode}: environment fault (${fault}); free the resource, the next pass retries it`,
          transient: true,
        };
      // A failed download is the network's fault more often than the port's: retried, not marked.
      return {
        status: 'failed',
        error: note || `${step.phase} exited ${exitCode}`,
        ...(step.phase === 'fetch' ? { transient: true } : {}),
      };
    }
  }
  if (!task.phases.includes('package')) return { status: 'success' };
  // The package is in the build's private output: read it, then move it into the repository.
  const built = env.hostPath(`${inside.output}/All/${task.pkgfile}`);
  if (!existsSync(built)) return { status: 'failed', error: `the package phase did not produce ${task.pkgfile}` };
  let pkg: PackageIdentity;
  try {
    pkg = packageIdentity(built);
  } catch (e) {
    return { status: 'failed', error: (e as Error).message };
  }
  try {
    publishPackage(built, join(task.paths.packages, 'All', task.pkgfile));
  } catch (e) {
    return {
      status: 'failed',
      error: `environment fault: cannot move ${task.pkgfile} into the repository (${(e as Error).message}); free the space or fix the permissions, the next pass retries it`,
      transient: true,
    };
  }
  log.line(
    `portsync: ${task.pkgfile} checked (identity ${pkg.identity.slice(0, 12)}, sha256 ${pkg.checksum.slice(0, 12)}) and moved into the repository`,
  );
  return { status: 'success', package: pkg };
}

/** Output kept of the distinfo read: enough for any distinfo, not for a port printing without end. */
const DISTINFO_OUTPUT_CAP = 4 << 20;

/**
 * Reads the port's distinfo inside the environment (as the build user, loopback only) and puts
 * the cached files that match it into the private DISTDIR. A distinfo that cannot be read leaves
 * the directory empty: the phases then fail on their own, with make's message.
 */
async function prepareDistfiles(
  task: BuildTask,
  env: BuildEnvironment,
  make: MakeCall,
  environment: Record<string, string>,
  log: BuildLog,
  signal: AbortSignal,
): Promise<{ entries: DistinfoEntry[]; seeded: Map<string, { dev: number; ino: number }> } | 'interrupted'> {
  const t0 = performance.now();
  const chunks: Buffer[] = [];
  let kept = 0;
  const r = await env.run({
    argv: distinfoArgv(env.inside, make, task.dir, task.flavor),
    env: environment,
    signal,
    unprivileged: true,
    network: task.limits.network === 'always',
    timeoutMs: task.limits.phaseTimeoutMs,
    noOutputTimeoutMs: task.limits.noOutputTimeoutMs,
    onOutput: (c) => {
      if (kept < DISTINFO_OUTPUT_CAP) chunks.push(c);
      kept += c.length;
    },
  });
  if (r.aborted) return 'interrupted';
  const text = Buffer.concat(chunks).toString('utf8');
  if (r.exitCode !== 0) {
    log.line(
      `portsync: distfiles: reading the port's distinfo failed (${r.timedOut ? `timed out: ${r.timedOut}` : (r.signal ?? `exit ${r.exitCode}`)}); nothing is taken from the cache:`,
    );
    log.line(text.trimEnd());
    return { entries: [], seeded: new Map() };
  }
  const { entries, refused } = parseDistinfo(text);
  for (const x of refused)
    log.line(`portsync: distfiles: distinfo names ${JSON.stringify(x.name)}: ${x.why}; it is neither taken from nor added to the cache`);
  if (!entries.length) return { entries, seeded: new Map() };
  const seed = await seedDistfiles(task.paths.distfiles, env.privateDistfiles!, entries, { uid: BUILD_UID, gid: BUILD_GID });
  for (const m of seed.mismatched)
    log.line(`portsync: distfiles: the cache's ${m.name} is not this port's (${m.why}): not used, fetched again`);
  for (const m of seed.skipped) log.line(`portsync: distfiles: ${m.name} not taken from the cache: ${m.why}`);
  log.line(
    `portsync: distfiles: ${seed.seeded.size} of ${entries.length} from the cache (each checked against distinfo), ${entries.length - seed.seeded.size} to fetch (${Math.round(performance.now() - t0)} ms)`,
  );
  return { entries, seeded: seed.seeded };
}

/** Copies what fetch got and distinfo vouches for into the shared cache, and says what it refused. */
async function publishFetched(
  task: BuildTask,
  priv: string,
  dist: { entries: DistinfoEntry[]; seeded: Map<string, { dev: number; ino: number }> },
  log: BuildLog,
): Promise<void> {
  if (!dist.entries.length) return;
  const r = await publishDistfiles(priv, task.paths.distfiles, dist.entries, dist.seeded);
  for (const name of r.published) log.line(`portsync: distfiles: ${name} matches distinfo: added to the cache`);
  for (const x of r.rejected) log.line(`portsync: distfiles: ${x.name} not added to the cache: ${x.why}`);
  for (const x of r.failed)
    log.line(`portsync: warning: distfiles: cannot add ${x.name} to the cache (${x.why}); this build goes on with its own copy`);
}
