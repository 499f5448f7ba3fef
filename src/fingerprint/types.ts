/**
 * The named parts a build key is computed from. They are stored with every key so that a
 * later step can say which part changed ("why did this rebuild?").
 */

/** How a change of a dependency reaches its dependents (builds.yaml `policy.cascade`). */
export type Cascade = 'output' | 'version' | 'inputs' | 'none';

/** What a port's build saw of one dependency. */
export interface DependencyFact {
  /** build: installed while the port builds (build-time dependencies and what they need to run); run: only needed at run time. */
  use: 'build' | 'run';
  /** A LIB_DEPENDS dependency (its shared libraries matter under cascade `version`). */
  lib?: boolean;
  /** The dependency's PKGVERSION. */
  version: string;
  /** Its build key. */
  key: string;
  /** Identity of its package (digest of the normalized content); '' when not recorded. */
  package: string;
  /** Shared libraries its package provides (for `lib` dependencies), when known. */
  shlibs?: string[];
  /** It rebuilds in this pass: its package (and shared libraries) are not known yet. Never recorded. */
  pending?: boolean;
}

export interface BuildKeyParts {
  /** CRC of the port directory (8 hex digits). */
  portCrc: string;
  /** CRCs of the other files its metadata read (framework Mk files, master port files), by tree-relative path. */
  makefiles: Record<string, string>;
  /**
   * CRCs of the framework's scripts (`Mk/` files that are not makefiles): the same object for
   * every port. Absent in keys recorded before it was split from `makefiles`.
   */
  framework?: Record<string, string>;
  /** Per-port make variables and the global make vars, sorted by name. */
  vars: Record<string, string>;
  /** SELECTED_OPTIONS, sorted. */
  options: string[];
  /** Identity of the build environment: backend, make command, make env, format version. */
  environment: Record<string, string>;
  /**
   * What it saw of each dependency, by origin. Keys recorded before portsync 0.2 hold the
   * dependency's build key as a string.
   */
  dependencies: Record<string, DependencyFact | string>;
}

/** A package as portsync records it at a successful build. */
export interface PackageIdentity {
  /** SHA-256 over the normalized content: paths, types, modes, link targets, file contents. */
  identity: string;
  /** SHA-256 of the package file's bytes: what is checked before installing or publishing it. */
  checksum: string;
  /** Shared libraries it provides (file names), sorted. */
  shlibs: string[];
}
