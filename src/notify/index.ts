/**
 * builds.yaml's hooks and notify targets as observers of a pass (src/reconcile/observers.ts).
 * Both work in the background: a pass never waits for them and never fails because of them.
 *
 * A daemon runs many passes that change nothing (resyncs, edits elsewhere): a run is news — and
 * notified — when it builds something, when its commit or its status differs from the previous
 * pass of this process, or when it is the first. A commit status sent "pending" at the start of
 * a pass always gets its result at the end.
 */
import type { PortOutcome } from '../builder/outcomes.js';
import type { DesiredState, NotifyEvent } from '../config/types.js';
import type { PassResult } from '../reconcile/passResult.js';
import type { PassObserver, RunInfo } from '../reconcile/observers.js';
import { enqueueDelivery } from './deliver.js';
import { HookObserver } from './hooks.js';
import { requestFor, wants, type EventData } from './targets.js';

export { settleBackground, backgroundCount } from './background.js';

/** What the previous pass of each builds.yaml ended with, in this process. */
const lastRun = new Map<string, { commit: string | null; status: PassResult['status'] }>();

export class NotifyObserver implements PassObserver {
  /** Whether this pass is news already at its start (then its run-end is sent whatever it ends with). */
  private newsAtStart = false;

  constructor(
    private readonly state: DesiredState,
    private readonly log: (line: string) => void,
  ) {}

  private send(kind: NotifyEvent, e: EventData): void {
    for (const target of this.state.notify) {
      if (!wants(target, kind)) continue;
      if (target.type === 'commit-status' && !e.run.gitCommit) {
        this.log(
          `notify target ${target.name}: ${kind} not sent: the ports tree ${e.run.tree} is not a git work tree, so there is no commit to set a status on`,
        );
        continue;
      }
      enqueueDelivery(
        `${this.state.file}#${target.name}`,
        target,
        `${kind} of run ${e.run.runId}${e.event === 'port-failure' ? ` (${e.port.origin})` : ''}`,
        () => requestFor(target, e),
        this.log,
      );
    }
  }

  runStarted(run: RunInfo): void {
    const last = lastRun.get(this.state.file);
    const s = run.plan.summary;
    this.newsAtStart = !last || last.commit !== run.gitCommit || s.build + s.pending > 0;
    if (this.newsAtStart) this.send('run-start', { event: 'run-start', run });
  }

  portFinished(run: RunInfo, port: PortOutcome): void {
    if (port.status === 'failed') this.send('port-failure', { event: 'port-failure', run, port });
  }

  runFinished(run: RunInfo, result: PassResult): void {
    const last = lastRun.get(this.state.file);
    lastRun.set(this.state.file, { commit: run.gitCommit, status: result.status });
    const s = result.stats;
    const news = this.newsAtStart || s.success + s.failed + s.interrupted > 0 || last?.status !== result.status;
    if (news) this.send('run-end', { event: 'run-end', run, result });
  }
}

/** The observers builds.yaml asks for (none when it has no hooks and no notify targets). */
export function passObserversFor(state: DesiredState, log: (line: string) => void): PassObserver[] {
  const list: PassObserver[] = [];
  if (Object.keys(state.hooks.commands).length) list.push(new HookObserver(state, log));
  if (state.notify.length) list.push(new NotifyObserver(state, log));
  return list;
}
