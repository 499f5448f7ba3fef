/** The run's outcomes as observers of the scheduler's run: the list it returns, and the pass's own callbacks. */
import type { PhaseInfo } from '../reconcile/observers.js';
import type { PortOutcome } from './outcomes.js';
import type { BuildRunObserver } from './runObserver.js';

/** Every port's outcome, the latest told for it. */
export class OutcomeList implements BuildRunObserver {
  private readonly byOrigin = new Map<string, PortOutcome>();

  portFinished(o: PortOutcome): void {
    this.byOrigin.set(o.origin, o);
  }

  /** The outcomes of `ports`, in their order (each must have one). */
  inOrder(ports: readonly { origin: string }[]): PortOutcome[] {
    return ports.map((p) => {
      const o = this.byOrigin.get(p.origin);
      if (!o) throw new Error(`internal: no outcome for ${p.origin}`);
      return o;
    });
  }
}

/** The pass's callbacks: each port's outcome as soon as it is known, each ended build phase. */
export function passCallbacks(onOutcome?: (o: PortOutcome) => void, onPhase?: (p: PhaseInfo) => void): BuildRunObserver {
  return {
    ...(onOutcome ? { portFinished: (o: PortOutcome) => onOutcome(o) } : {}),
    ...(onPhase
      ? {
          phase: (b, e) => {
            if (e.type === 'phase-end') onPhase({ origin: b.origin, phase: e.phase, durationMs: e.durationMs, exitCode: e.exitCode });
          },
        }
      : {}),
  };
}
