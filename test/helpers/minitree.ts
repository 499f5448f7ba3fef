/**
 * Writes small real ports trees for tests: each port is a bmake Makefile that sets the
 * metadata variables and includes a tiny shared Mk/mini.mk, so the reader runs real bmake
 * without depending on the example tree's full framework.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';

export interface MiniPort {
  version?: string;
  build?: string[];
  lib?: string[];
  run?: string[];
  flavors?: string[];
  ignore?: string;
  /** Extra raw Makefile lines (before the include). */
  extra?: string;
}

export const MINI_MK = `# mini framework for tests
PKGVERSION?=	\${PORTVERSION}
.if defined(FLAVORS) && !empty(FLAVORS)
FLAVOR?=	\${FLAVORS:[1]}
.if empty(FLAVORS:M\${FLAVOR})
.error Unknown flavor '\${FLAVOR}', possible flavors: \${FLAVORS}
.endif
PKGNAMEPREFIX?=	\${FLAVOR}-
.endif
PKGNAME?=	\${PKGNAMEPREFIX}\${PORTNAME}-\${PKGVERSION}
PKGFILE?=	\${PACKAGES}/All/\${PKGNAME}.tgz
.if defined(WITH_DOCS)
SELECTED_OPTIONS=	DOCS
.else
DESELECTED_OPTIONS=	DOCS
.endif
all:
`;

export function writeMiniTree(root: string, ports: Record<string, MiniPort>): string {
  mkdirSync(join(root, 'Mk'), { recursive: true });
  writeFileSync(join(root, 'Mk', 'mini.mk'), MINI_MK);
  for (const [dir, p] of Object.entries(ports)) writeMiniPort(root, dir, p);
  return root;
}

export function writeMiniPort(root: string, dir: string, p: MiniPort): void {
  const name = dir.split('/')[1]!;
  const lines = [`PORTNAME=\t${name}`, `PORTVERSION=\t${p.version ?? '1.0'}`];
  if (p.build?.length) lines.push(`BUILD_DEPENDS=\t${p.build.join(' ')}`);
  if (p.lib?.length) lines.push(`LIB_DEPENDS=\t${p.lib.join(' ')}`);
  if (p.run?.length) lines.push(`RUN_DEPENDS=\t${p.run.join(' ')}`);
  if (p.flavors?.length) lines.push(`FLAVORS=\t${p.flavors.join(' ')}`);
  if (p.ignore) lines.push(`IGNORE=\t${p.ignore}`);
  if (p.extra) lines.push(p.extra);
  lines.push('.include "${PORTSDIR}/Mk/mini.mk"', '');
  const file = join(root, dir, 'Makefile');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, lines.join('\n'));
}

/** Why bmake tests cannot run here, or undefined when they can. */
export function bmakeMissing(): string | undefined {
  return spawnSync('bmake', ['-V', 'MAKE_VERSION', '-f', '/dev/null']).status === 0
    ? undefined
    : 'bmake is not installed (npm test installs it with apt-get when run as root)';
}
