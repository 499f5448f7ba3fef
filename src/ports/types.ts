/** What the ports-tree reader knows about one port (one node: an origin and flavor). */

export const DEP_KINDS = ['FETCH', 'EXTRACT', 'PATCH', 'BUILD', 'LIB', 'RUN'] as const;
export type DepKind = (typeof DEP_KINDS)[number];

/** One parsed entry of a *_DEPENDS variable: `target:origin[:tag]`. */
export interface Dependency {
  kind: DepKind;
  /** What is checked: a file path, a program name, or `pkg>=1.2`. */
  target: string;
  /** Origin as written (`cat/name[@flavor]`, any `${PORTSDIR}/` prefix removed); the graph maps it to a node. */
  origin: string;
  tag?: string;
  /** The entry as written, for messages. */
  raw: string;
}

export interface PortMeta {
  /** Canonical origin: `cat/name` for the default flavor, `cat/name@flavor` for another one. */
  origin: string;
  /** `cat/name`, the port directory relative to the tree. */
  dir: string;
  /** The flavor evaluated (the default one for a flavored port's bare origin), or '' for none. */
  flavor: string;
  flavors: string[];
  pkgname: string;
  version: string;
  /** Package file name (`PKGFILE:T`). */
  pkgfile: string;
  distfiles: string[];
  distSubdir: string;
  /** Non-empty when the port must not be built. */
  ignore: string;
  depends: Dependency[];
  selectedOptions: string[];
  deselectedOptions: string[];
  /** Make printed this on stderr while exiting 0; shown to the user. */
  warnings: string[];
  /** Per-port make variables from builds.yaml (`vars:`), applied when it was evaluated. */
  vars: Record<string, string>;
}

export interface ScannedPort {
  meta: PortMeta;
  /** Content CRC of the port directory. */
  portCrc: string;
  /**
   * CRCs of the other files its metadata read (.MAKE.MAKEFILES outside its directory), by
   * tree-relative path (absolute outside the tree). Frozen, and ONE object for all ports that read
   * the same files at the same CRCs (memoize per set with a WeakMap).
   */
  inputs: Readonly<Record<string, string>>;
  /** Every makefile make read for it, absolute paths (derived on demand from the shared set: no per-port copy). */
  makefiles(): string[];
}
