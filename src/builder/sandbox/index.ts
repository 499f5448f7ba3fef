import { bsdBackend } from './bsd.js';
import { chrootBackend } from './chroot.js';
import { hostBackend } from './host.js';
import type { BackendName, EnvironmentBackend } from './types.js';

export type * from './types.js';
export { EnvironmentSetupError, UnsafeCleanupError, EnvironmentGoneError, BadEnvironmentVariableError } from './errors.js';
export { planBsdEnvironment, type BsdPlan } from './bsd.js';
export { CHROOT_INSIDE, chrootMountTable, type MountEntry } from './chroot.js';
export { cleanupStaleWorkers } from './workers.js';
export { removeUnmountedTree } from './safe-remove.js';

const backends: Record<BackendName, EnvironmentBackend> = { chroot: chrootBackend, host: hostBackend, bsd: bsdBackend };

/** The backend named by builds.yaml `environment.backend`. */
export function environmentBackend(name: BackendName): EnvironmentBackend {
  return backends[name];
}
