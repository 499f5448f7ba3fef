/**
 * `GET /metrics` on the daemon: Prometheus text format (prom-client), fed by the daemon's passes
 * as one more observer (src/reconcile/observers.ts) and by the loop's state at scrape time.
 *
 * portsync_passes_total{trigger,status}             passes ended (status: success, failed, interrupted, error)
 * portsync_pass_duration_seconds{status}            how long passes took (histogram)
 * portsync_ports{state}                             ports of the last pass by state (success, failed, skipped, ignored, blocked, interrupted)
 * portsync_builds_total{result}                     builds run (success, failed, interrupted)
 * portsync_build_phase_duration_seconds{phase}      how long each build phase took (histogram)
 * portsync_build_queue_length                       ports of the running pass waiting for a worker or their dependencies
 * portsync_builds_running                           builds running now
 * portsync_pass_running, portsync_pass_queued       a pass runs now / another is asked for
 * portsync_last_successful_pass_timestamp_seconds   when the last pass that ended "success" ended
 * portsync_database_faults_total                    build-database operations that failed (the build went on)
 * portsync_config_errors                            problems of builds.yaml (the last good one is in force)
 * plus prom-client's process_* and nodejs_* metrics of the daemon.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PortOutcome } from '../builder/outcomes.js';
import type { FailSafeBuildDB } from '../builddb/failsafe.js';
import type { LoopStatus } from '../reconcile/loop.js';
import type { PassObserver, PhaseInfo, RunInfo } from '../reconcile/observers.js';
import type { PassResult } from '../reconcile/passResult.js';

const PORT_STATES: readonly PortOutcome['status'][] = ['success', 'failed', 'skipped', 'ignored', 'blocked', 'interrupted'];

export class DaemonMetrics implements PassObserver {
  readonly registry = new Registry();
  private readonly passes: Counter<'trigger' | 'status'>;
  private readonly passDuration: Histogram<'status'>;
  private readonly ports: Gauge<'state'>;
  private readonly builds: Counter<'result'>;
  private readonly phaseDuration: Histogram<'phase'>;
  private readonly lastSuccess: Gauge;
  /** Ports of the running pass not decided yet. */
  private undecided = new Set<string>();

  constructor(loopStatus: () => LoopStatus, db: FailSafeBuildDB) {
    const registers = [this.registry];
    this.passes = new Counter({
      name: 'portsync_passes_total',
      help: 'Reconcile passes ended, by trigger and status (error: the pass could not run to its end).',
      labelNames: ['trigger', 'status'],
      registers,
    });
    this.passDuration = new Histogram({
      name: 'portsync_pass_duration_seconds',
      help: 'How long reconcile passes took, observe to record.',
      labelNames: ['status'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 43200],
      registers,
    });
    this.ports = new Gauge({
      name: 'portsync_ports',
      help: 'Ports of the closure by their state in the last pass.',
      labelNames: ['state'],
      registers,
    });
    for (const s of PORT_STATES) this.ports.set({ state: s }, 0);
    this.builds = new Counter({ name: 'portsync_builds_total', help: 'Port builds run, by result.', labelNames: ['result'], registers });
    this.phaseDuration = new Histogram({
      name: 'portsync_build_phase_duration_seconds',
      help: 'How long build phases took, by phase (fetch, checksum, extract, patch, configure, build, stage, package).',
      labelNames: ['phase'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'portsync_last_successful_pass_timestamp_seconds',
      help: 'When the last pass whose status was success ended (Unix time); 0: none yet.',
      registers,
    });
    const undecided = () => this.undecided;
    new Gauge({
      name: 'portsync_build_queue_length',
      help: 'Ports of the running pass still to build or decide, not building now.',
      registers,
      collect() {
        const building = loopStatus().current?.building.length ?? 0;
        this.set(Math.max(0, undecided().size - building));
      },
    });
    new Gauge({
      name: 'portsync_builds_running',
      help: 'Port builds running now.',
      registers,
      collect() {
        this.set(loopStatus().current?.building.length ?? 0);
      },
    });
    new Gauge({
      name: 'portsync_pass_running',
      help: '1 while a pass runs.',
      registers,
      collect() {
        this.set(loopStatus().current ? 1 : 0);
      },
    });
    new Gauge({
      name: 'portsync_pass_queued',
      help: '1 when another pass has been asked for (it starts after the running one, or after the debounce).',
      registers,
      collect() {
        this.set(loopStatus().pending ? 1 : 0);
      },
    });
    new Gauge({
      name: 'portsync_config_errors',
      help: 'Problems found in builds.yaml; while non-zero the last good desired state is in force.',
      registers,
      collect() {
        this.set(loopStatus().config.errors.length);
      },
    });
    let counted = 0;
    new Counter({
      name: 'portsync_database_faults_total',
      help: 'Build-database operations that failed (logged; the builds went on, unrecorded).',
      registers,
      collect() {
        if (db.failures > counted) this.inc(db.failures - counted);
        counted = db.failures;
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  runStarted(run: RunInfo): void {
    this.undecided = new Set(run.plan.ports.filter((p) => p.action === 'build' || p.action === 'pending').map((p) => p.origin));
  }

  portFinished(_run: RunInfo, port: PortOutcome): void {
    this.undecided.delete(port.origin);
    if (port.status === 'success' || port.status === 'failed' || (port.status === 'interrupted' && port.buildId))
      this.builds.inc({ result: port.status });
  }

  phaseFinished(_run: RunInfo, phase: PhaseInfo): void {
    this.phaseDuration.observe({ phase: phase.phase }, phase.durationMs / 1000);
  }

  runFinished(run: RunInfo, result: PassResult): void {
    this.undecided = new Set();
    this.passes.inc({ trigger: run.trigger, status: result.status });
    this.passDuration.observe({ status: result.status }, result.stats.durationMs / 1000);
    for (const s of PORT_STATES) this.ports.set({ state: s }, result.stats[s]);
    if (result.status === 'success') this.lastSuccess.set(Date.now() / 1000);
  }

  passFailed(failure: { trigger: string; durationMs: number }): void {
    this.undecided = new Set();
    this.passes.inc({ trigger: failure.trigger, status: 'error' });
    this.passDuration.observe({ status: 'error' }, failure.durationMs / 1000);
  }
}
