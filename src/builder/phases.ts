/** The ports framework's phases and how make is called for them inside an environment. */
import type { InsidePaths } from './sandbox/types.js';

export const PHASES = ['fetch', 'checksum', 'extract', 'patch', 'configure', 'build', 'stage', 'package'] as const;
export type Phase = (typeof PHASES)[number];
/** Not a make phase: unpacking the declared dependencies' packages into LOCALBASE. */
export const INSTALL_DEPS_PHASE = 'install-depends';

export interface MakeCall {
  command: string;
  /** make.env, with paths inside the host ports tree already mapped to the inside tree. */
  env: Record<string, string>;
  /** Global make.vars merged with the port's own vars. */
  vars: Record<string, string>;
  makeJobs: number;
}

/** The clean environment every phase runs with (nothing inherited from portsync's own). */
export function phaseEnvironment(inside: InsidePaths, call: MakeCall): Record<string, string> {
  return {
    PATH: `${inside.localbase}/sbin:${inside.localbase}/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: inside.construction,
    TMPDIR: inside.tmp,
    TERM: 'dumb',
    LANG: 'C',
    LC_ALL: 'C',
    ...call.env,
  };
}

/** `make -C /xports/<dir> [FLAVOR=f] VAR=... <target>` as run inside the environment. */
export function phaseArgv(inside: InsidePaths, call: MakeCall, dir: string, flavor: string, target: string): string[] {
  return makeArgv(inside, call, dir, flavor, [target]);
}

/**
 * Prints the port's distinfo (the file make's DISTINFO_FILE names, when it exists), evaluated
 * exactly as its phases are. Run as the build user: it reads only what that user may read.
 */
export function distinfoArgv(inside: InsidePaths, call: MakeCall, dir: string, flavor: string): string[] {
  const script = 'f=$("$@") || exit 1; if [ -n "$f" ] && [ -f "$f" ]; then exec cat -- "$f"; fi';
  return ['/bin/sh', '-c', script, 'portsync-distinfo', ...makeArgv(inside, call, dir, flavor, ['-V', '${DISTINFO_FILE}'])];
}

function makeArgv(inside: InsidePaths, call: MakeCall, dir: string, flavor: string, tail: string[]): string[] {
  const argv = [call.command, '-C', `${inside.portsTree}/${dir}`];
  if (flavor) argv.push(`FLAVOR=${flavor}`);
  argv.push(
    `PORTSDIR=${inside.portsTree}`,
    `WRKDIRPREFIX=${inside.construction}`,
    `DISTDIR=${inside.distfiles}`,
    // The build writes its package to its private output; portsync checks it and moves it into the repository.
    `PACKAGES=${inside.output}`,
    `LOCALBASE=${inside.localbase}`,
    'BATCH=yes',
    'PACKAGE_BUILDING=yes',
    `MAKE_JOBS_NUMBER=${call.makeJobs}`,
  );
  for (const [k, v] of Object.entries(call.vars)) argv.push(`${k}=${v}`);
  argv.push(...tail);
  return argv;
}

/**
 * A shell script that installs packages into LOCALBASE the way `pkg add` would for our
 * package format: the files under LOCALBASE, the +MANIFEST under var/db/pkg/<pkgname>/. A
 * package with a recorded checksum is checked first: one that does not match (replaced or
 * damaged since it was built) is never installed.
 */
export function installPackagesScript(
  inside: InsidePaths,
  pkgfiles: readonly { pkgname: string; pkgfile: string; checksum?: string }[],
): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const lines = ['set -e'];
  for (const p of pkgfiles) {
    const file = `${inside.packages}/All/${p.pkgfile}`;
    const db = `${inside.localbase}/var/db/pkg/${p.pkgname}`;
    lines.push(`echo "installing dependency ${p.pkgname}"`);
    if (p.checksum) {
      lines.push(
        `echo ${q(`${p.checksum}  ${file}`)} | sha256sum -c --status - || { echo "portsync: ${file} does not match the checksum recorded when it was built; it is not installed (the next pass rebuilds it)"; exit 1; }`,
      );
    }
    lines.push(
      `mkdir -p ${q(db)}`,
      `tar -xzf ${q(file)} -C ${q(db)} +MANIFEST`,
      `tar -xzf ${q(file)} -C ${q(inside.localbase)} --exclude=+MANIFEST`,
    );
  }
  return lines.join('\n');
}
