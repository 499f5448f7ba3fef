/** How a pass gets its executor for `executor.kind: distributed` (BullMQ is loaded only then). */
import type { ExecutorFactory } from '../builder/scheduler.js';
import type { DesiredState } from '../config/types.js';
import type { Plan } from '../reconcile/plan.js';
import type { PortInputs } from './coordinator.js';

export function executorFactory(
  state: DesiredState,
  pass: { plan: Plan; tree: string; gitCommit: string | null; runId: string },
): ExecutorFactory | undefined {
  if (state.executor?.kind !== 'distributed') return undefined;
  return async (builds, warn) => {
    const { DistributedExecutor } = await import('./coordinator.js');
    const ports = new Map<string, PortInputs>();
    for (const p of pass.plan.ports) if (p.crc && p.keyParts) ports.set(p.origin, { crc: p.crc, keyParts: p.keyParts });
    return DistributedExecutor.start({ state, tree: pass.tree, gitCommit: pass.gitCommit, runId: pass.runId, ports, builds, warn });
  };
}
