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
import { environmentBackend } from './env/index.js';
import { EnvironmentSetupError } from './env/errors.js';
import type { BuildEnvironment } from './env/types.js';
import { BuildLog } from './log.js';
import { INSTALL_DEPS_PHASE, installPackagesScript, phaseArgv, phaseEnvironment } from './phases.js';
import { describeLimits, envResources, formatSize, type BuildTask, type BuildTaskResult, type TaskEvent } from './task.js';

type Outcome = Omit<BuildTaskResult, 'durationMs' | 'lastPhase'>;

/** What tools print when the machine, not the port, failed (strerror texts of ENOSPC, EROFS, EMFILE/ENFILE, ENOMEM, EDQUOT). */
const ENVIRONMENT_FAULTS = /No space left on device|Read-only file system|Too many open files( in system)?|Cannot allocate memory|Disk quota exceeded/;

export default async function buildPort(task: BuildTask): Promise<BuildTaskResult> {
  const t0 = performance.now();
  const abort = new AbortController();
  task.port.on('message', (m: { type?: string }) => { if (m?.type === 'cancel') abort.abort(); });
  const log = new BuildLog(task.logPath);
  log.header({ origin: task.origin, version: task.version, pkgname: task.pkgname, 'build id': task.buildId, 'build key': task.buildKey, backend: task.backend, slot: String(task.slot) });
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
    outcome = { status: abort.signal.aborted ? 'interrupted' : 'failed', error: message, transient: e instanceof EnvironmentSetupError || !(e instanceof PortsyncError) };
  }
  try {
    await env?.destroy();
  } catch (e) {
    log.line(`portsync: cleanup of ${env?.root}: ${(e as Error).message}`);
  }
  const durationMs = Math.round(performance.now() - t0);
  log.close(outcome.status === 'failed' ? `failed in ${progress.lastPhase}${outcome.error ? `: ${outcome.error}` : ''}` : outcome.status, durationMs);
  task.port.close();
  return { ...outcome, lastPhase: progress.lastPhase, durationMs };
}

async function runSteps(task: BuildTask, env: BuildEnvironment, log: BuildLog, signal: AbortSignal, progress: { lastPhase: string }): Promise<Outcome> {
  const send = (e: TaskEvent) => task.port.postMessage(e);
  const inside = env.inside;
  // make.env may name files in the host's tree (MAKESYSPATH): inside, the tree is elsewhere.
  const make = { ...task.make, env: Object.fromEntries(Object.entries(task.make.env).map(([k, v]) => [k, v.startsWith(task.paths.portsTree) ? inside.portsTree + v.slice(task.paths.portsTree.length) : v])) };
  const environment = phaseEnvironment(inside, make);
  const steps: { phase: string; argv: string[] }[] = [];
  if (task.installs.length) steps.push({ phase: INSTALL_DEPS_PHASE, argv: ['/bin/sh', '-c', installPackagesScript(inside, task.installs)] });
  for (const phase of task.phases) steps.push({ phase, argv: phaseArgv(inside, make, task.dir, task.flavor, phase) });
  for (const step of steps) {
    progress.lastPhase = step.phase;
    const startedAt = new Date().toISOString();
    send({ type: 'phase-start', phase: step.phase, at: startedAt });
    log.phaseStart(step.phase);
    log.line(`$ ${step.argv.join(' ')}`);
    const network = task.limits.network === 'always' || (task.limits.network === 'fetch-only' && step.phase === 'fetch');
    // Installing dependencies and fetching write where only root may (LOCALBASE, the distfiles cache);
    // every other phase runs as the unprivileged build user.
    const unprivileged = step.phase !== INSTALL_DEPS_PHASE && step.phase !== 'fetch';
    const oomBefore = env.usage?.()?.oomKills ?? 0;
    const r = await env.run({ argv: step.argv, env: environment, log: log.fd, timeoutMs: task.limits.phaseTimeoutMs, noOutputTimeoutMs: task.limits.noOutputTimeoutMs, signal, network, unprivileged });
    const exitCode = r.exitCode ?? 128;
    const note = r.aborted ? 'interrupted'
      : r.timedOut === 'phase' ? `killed: phase time limit (${task.limits.phaseTimeoutMs} ms)`
      : r.timedOut === 'no-output' ? `killed: no output for ${task.limits.noOutputTimeoutMs} ms`
      : r.signal ? `killed by ${r.signal}` : '';
    log.phaseEnd(step.phase, r.exitCode, r.durationMs, note);
    send({ type: 'phase-end', phase: step.phase, startedAt, durationMs: Math.round(r.durationMs), exitCode });
    if (r.aborted) return { status: 'interrupted', error: 'interrupted' };
    if (exitCode !== 0) {
      // Killed by its memory limit: the limit's doing, not its inputs' (raising the limit changes no build key): retried, not marked.
      if ((env.usage?.()?.oomKills ?? 0) > oomBefore) {
        const why = task.limits.memoryBytes
          ? `killed by the memory limit (${formatSize(task.limits.memoryBytes)}); raise limits.memory, or this port's own in its ports entry (limits: { memory: … })`
          : 'killed for lack of memory (no limits.memory is set: the machine, or a cgroup above portsync\'s, ran out); free memory or lower workers';
        return { status: 'failed', error: `${step.phase} exited ${exitCode}: ${why}; the next pass retries it`, transient: true };
      }
      // A full disk, a read-only or exhausted system is the machine's fault, not the port's: retried, not marked.
      const fault = ENVIRONMENT_FAULTS.exec(log.tail())?.[0];
      if (fault) return { status: 'failed', error: `${step.phase} exited ${exitCode}: environment fault (${fault}); free the resource, the next pass retries it`, transient: true };
      // A failed download is the network's fault more often than the port's: retried, not marked.
      return { status: 'failed', error: note || `${step.phase} exited ${exitCode}`, ...(step.phase === 'fetch' ? { transient: true } : {}) };
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
    return { status: 'failed', error: `environment fault: cannot move ${task.pkgfile} into the repository (${(e as Error).message}); free the space or fix the permissions, the next pass retries it`, transient: true };
  }
  log.line(`portsync: ${task.pkgfile} checked (identity ${pkg.identity.slice(0, 12)}, sha256 ${pkg.checksum.slice(0, 12)}) and moved into the repository`);
  return { status: 'success', package: pkg };
}
