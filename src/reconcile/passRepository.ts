/**
 * A pass and the package repository: the pass builds into a staging copy (made only when it has
 * something to build), and at its end publishes it — catalog command, then the `latest` switch —
 * when it changed a package; otherwise, or when the catalog command fails or the pass was
 * interrupted, the staging copy is thrown away and the published snapshot stays as it was.
 * The caller holds the pass lock (src/repository/snapshots.ts prepareRepository).
 */
import type { DesiredState } from '../config/types.js';
import { fileSystemFault } from '../errors.js';
import { packageCheckCache, packageVerifier } from '../fingerprint/packageCheck.js';
import { runCatalogCommand, type CatalogRun } from '../repository/catalog.js';
import { CatalogCommandError } from '../repository/errors.js';
import { latestLink, snapshotDir } from '../repository/layout.js';
import { prepareRepository } from '../repository/prepare.js';
import { nextSnapshotId, publishedSnapshotId, snapshotsBeyond } from '../repository/snapshots.js';
import {
  createStaging,
  detachCatalogFiles,
  discardStaging,
  removeLinkedTree,
  publishStaging,
  stagedPackageCount,
  stagingChanged,
  type Staging,
} from '../repository/staging.js';

/** What a pass did to the repository (`repository` in reconcile --json). */
export interface RepositoryOutcome {
  /**
   * published: a new snapshot is published; unchanged: the pass changed no package (no catalog
   * step, no switch); not-published: it did, but the catalog command failed, the pass was
   * interrupted or the switch failed — the published snapshot stays as it was.
   */
  action: 'published' | 'unchanged' | 'not-published';
  /** The published snapshot after the pass (null: none yet). */
  snapshot: string | null;
  /** The one published before it. */
  previous: string | null;
  /** Package files in the published snapshot, when the pass published one. */
  packages?: number;
  catalog?: CatalogRun;
  /** Why the pass did not publish. */
  error?: string;
  /** Snapshots removed beyond repository.keep. */
  removedSnapshots?: string[];
}

export class PassRepository {
  private staging: Staging | undefined;

  private constructor(
    private readonly state: DesiredState,
    private readonly log: (line: string) => void,
  ) {}

  /** Readies the repository for a pass: converts one written in place, removes a killed pass's staging copy. */
  static open(state: DesiredState, log: (line: string) => void): PassRepository {
    const packages = state.paths.packages;
    const prepared = prepareRepository(packages);
    if (prepared.converted) {
      log(
        `the repository ${packages} is now published atomically: its packages moved, unchanged, into snapshot ${prepared.converted}, and ${latestLink(packages)} links to it (${packages}/All still leads to them)`,
      );
    }
    if (prepared.relinked) log(`${latestLink(packages)} was missing: it links to the newest snapshot, ${prepared.relinked}, again`);
    if (prepared.removedStaging.length) {
      log(
        `removed the staging cop${prepared.removedStaging.length === 1 ? 'y' : 'ies'} ${prepared.removedStaging.join(', ')} left in ${packages} by a pass that was killed (never published)`,
      );
    }
    return new PassRepository(state, log);
  }

  /** The directory builds write into: a staging copy of the published snapshot, made now. */
  async stage(runId: string): Promise<string> {
    this.staging = await createStaging(this.state.paths.packages, runId, this.verifier);
    this.saveVerifier();
    return this.staging.dir;
  }

  /** What the plan verified of the published packages; kept true across portsync's own links and unlinks. */
  private get verifier() {
    return packageVerifier(packageCheckCache(this.state.paths.buildBase));
  }

  private saveVerifier(): void {
    try {
      this.verifier.save();
    } catch {
      // only a speed-up: packages are hashed again next time
    }
  }

  /** Publishes what the pass built (or not: see RepositoryOutcome). Never throws: a failure is the outcome's error. */
  async finish(run: { runId: string; gitCommit: string | null; interrupted: boolean }): Promise<RepositoryOutcome> {
    const packages = this.state.paths.packages;
    const previous = publishedSnapshotId(packages) ?? null;
    const staging = this.staging;
    this.staging = undefined;
    if (!staging) return { action: 'unchanged', snapshot: previous, previous };
    try {
      return await this.publish(staging, run, previous);
    } finally {
      this.saveVerifier();
    }
  }

  private async publish(
    staging: Staging,
    run: { runId: string; gitCommit: string | null; interrupted: boolean },
    previous: string | null,
  ): Promise<RepositoryOutcome> {
    const packages = this.state.paths.packages;
    const kept = (error: string): RepositoryOutcome => ({ action: 'not-published', snapshot: previous, previous, error });
    try {
      if (run.interrupted) {
        await discardStaging(staging, this.verifier);
        return kept('the pass was interrupted: nothing it built is published');
      }
      if (!(await stagingChanged(staging))) {
        await discardStaging(staging, this.verifier);
        return { action: 'unchanged', snapshot: previous, previous };
      }
      let catalog: CatalogRun | undefined;
      const { catalogCommand } = this.state.repository;
      if (catalogCommand) {
        await detachCatalogFiles(staging);
        catalog = await runCatalogCommand(
          { ...this.state.repository, catalogCommand },
          staging.dir,
          previous ? snapshotDir(packages, previous) : undefined,
        );
      }
      const count = await stagedPackageCount(staging);
      const id = nextSnapshotId(packages);
      await publishStaging(staging, id, {
        runId: run.runId,
        gitCommit: run.gitCommit,
        from: staging.from ?? null,
        packages: count,
        catalogCommand: catalogCommand ?? null,
      });
      return {
        action: 'published',
        snapshot: id,
        previous,
        packages: count,
        ...(catalog ? { catalog } : {}),
        removedSnapshots: await this.trim(),
      };
    } catch (e) {
      await discardStaging(staging, this.verifier).catch(() => undefined);
      const why =
        e instanceof CatalogCommandError
          ? e.message
          : `cannot publish the repository ${packages}: ${fileSystemFault(e) ?? (e as Error).message}; the published repository stays as it was`;
      this.log(`error: ${why}`);
      return kept(why);
    }
  }

  /** Removes the snapshots beyond repository.keep; a failure is only a warning (cleanup tries again). */
  private async trim(): Promise<string[]> {
    const packages = this.state.paths.packages;
    const removed: string[] = [];
    try {
      for (const old of snapshotsBeyond(packages, this.state.repository.keep)) {
        await removeLinkedTree(old.dir, packages, this.verifier);
        removed.push(old.id);
      }
    } catch (e) {
      this.log(
        `warning: could not remove an old snapshot of ${packages}: ${fileSystemFault(e) ?? (e as Error).message} (portsync cleanup tries again)`,
      );
    }
    return removed;
  }
}
