/**
 * Remembering the packages a pass built, as an observer of the scheduler's run: a package just
 * built was hashed already, so the next plan need not hash it again to trust it (the package
 * verifier's cache, src/fingerprint/packageCheck.ts), saved when the builds are over.
 */
import { join } from 'node:path';
import { packageCheckCache, packageVerifier, type PackageVerifier } from '../fingerprint/packageCheck.js';
import { publishedPackage } from '../repository/layout.js';
import type { BuildRunObserver, RunningBuild } from './runObserver.js';
import type { BuildTaskResult } from './task.js';

export class PackageMemory implements BuildRunObserver {
  private readonly verifier: PackageVerifier;

  constructor(
    private readonly paths: { buildBase: string; packages: string },
    private readonly warn: (line: string) => void,
  ) {
    this.verifier = packageVerifier(packageCheckCache(paths.buildBase));
  }

  buildFinished(b: RunningBuild, result: BuildTaskResult): void {
    const checksum = result.status === 'success' ? result.package?.checksum : undefined;
    // It is in the pass's staging copy until the pass publishes it: remembered by the path it will have.
    if (checksum) this.verifier.remember(publishedPackage(this.paths.packages, b.pkgfile), checksum, join(b.packages, 'All', b.pkgfile));
  }

  passEnd(): void {
    try {
      this.verifier.save();
    } catch (e) {
      this.warn(
        `warning: could not save ${packageCheckCache(this.paths.buildBase)}: ${(e as Error).message} (packages are hashed again next time)`,
      );
    }
  }
}
