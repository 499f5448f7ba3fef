/**
 * The named parts a build key is computed from. They are stored with every key so that a
 * later step can say which part changed ("why did this rebuild?").
 */
export interface BuildKeyParts {
  /** CRC of the port directory (8 hex digits). */
  portCrc: string;
  /** CRCs of the other files its metadata read (framework Mk files, master port files), by path relative to the tree. */
  makefiles: Record<string, string>;
  /** Per-port make variables and the global make vars, sorted by name. */
  vars: Record<string, string>;
  /** SELECTED_OPTIONS, sorted. */
  options: string[];
  /** Identity of the build environment: backend, make command, make env, format version. */
  environment: Record<string, string>;
  /** Build keys of its dependencies by origin (empty when policy.rebuildDependents is off). */
  dependencies: Record<string, string>;
}
