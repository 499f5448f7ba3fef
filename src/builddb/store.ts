import type {
  BuildEndPort,
  FinishBuildInput,
  FinishedBuildStatus,
  FinishRunInput,
  KnownStateRow,
  KnownStateSummaryRow,
  PhaseInput,
  PrunedPackage,
  RunStatus,
  StartBuildInput,
  StartRunInput,
  SuccessInput,
} from './types.js';

/**
 * The build database as a pass uses it: what it records while it builds, and the port states it
 * plans from. BuildDB implements it; FailSafeBuildDB wraps any EngineStore so that a database
 * fault never stops builds.
 */
export interface EngineStore {
  /** Starts a run (one pass); returns its id. */
  startRun(input: StartRunInput): Promise<string>;
  /** Ends a run with its status and counts. */
  finishRun(runId: string, status: RunStatus, counts?: FinishRunInput): Promise<void>;
  /** Records a build as running; returns its id (input.buildId when given). */
  startBuild(input: StartBuildInput): Promise<string>;
  /** Records several phases of one build in one statement. */
  recordPhases(buildId: string, phases: PhaseInput[]): Promise<void>;
  /** Records the host that runs a build: the agent that took it in a distributed pass. */
  setBuildHost(buildId: string, host: string): Promise<void>;
  /** Records the end of a build (its row only). */
  finishBuild(buildId: string, status: FinishedBuildStatus, info?: FinishBuildInput): Promise<void>;
  /**
   * The end of a build, one transaction: the build row's end (as finishBuild) and, for a success,
   * the port's state (as recordSuccess); for a failure that is not transient, the failed key (as
   * recordFailure).
   */
  completeBuild(buildId: string, status: FinishedBuildStatus, info?: FinishBuildInput, port?: BuildEndPort): Promise<void>;
  /** Records the CRC, build key and package a port was successfully built at. */
  recordSuccess(origin: string, s: SuccessInput): Promise<void>;
  /** Marks that the port failed at this build key, so it is not retried until its inputs change. */
  recordFailure(origin: string, buildKey: string, buildId: string): Promise<void>;
  /** Records the package files a run pruned (policy.prune). */
  recordPrunes(runId: string | null, items: readonly PrunedPackage[]): Promise<void>;
  /** Every port's state as a plan reads it, without the key parts (by origin; the same row objects while unchanged). */
  knownStatesWithoutParts(): Promise<KnownStateSummaryRow[]>;
  /** These ports' states as a plan reads them, key parts included. */
  knownStates(origins: readonly string[]): Promise<KnownStateRow[]>;
}
