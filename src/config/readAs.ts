/** builds.yaml `make.readAs`: the identity the tree is read as when portsync runs as root (see src/ports/make-user.ts). */
import { spawnSync } from 'node:child_process';
import { PortsyncError } from '../errors.js';
import { BUILD_GID, BUILD_UID } from './buildUser.js';

/** The identity the unprivileged reader runs as (builds.yaml `make.readAs`, resolved to numbers). */
export interface ReaderIdentity {
  uid: number;
  gid: number;
}

/** builds.yaml `make.readAs` names an identity the tree cannot be read as; says which and what to give instead. */
export class ReadAsError extends PortsyncError {
  constructor(
    readonly spec: string,
    reason: string,
  ) {
    super(`make.readAs ${JSON.stringify(spec)}: ${reason}`);
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;
const MAX_ID = 0xfffffffe; // (uid_t)-1 means "unchanged" to the kernel

/** `getent <db> <name>`'s fields, undefined when there is no such entry. */
function getent(db: 'passwd' | 'group', name: string, spec: string): string[] | undefined {
  const r = spawnSync('getent', [db, name], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  if (r.error)
    throw new ReadAsError(
      spec,
      `cannot look up ${db === 'passwd' ? 'user' : 'group'} ${name} (${r.error.message}); give a number instead (uid[:gid])`,
    );
  if (r.status === 2) return undefined; // "key not found"
  if (r.status !== 0) throw new ReadAsError(spec, `getent ${db} ${name} failed (exit ${r.status}); give a number instead (uid[:gid])`);
  return r.stdout.split('\n')[0]!.split(':');
}

/**
 * builds.yaml `make.readAs` as numbers: `uid`, `uid:gid`, `user` or `user:group` (a user's own
 * group when none is given; a lone number is used as both). Refused: root's uid or gid (reading
 * as root is what this protects against) and the chroot build user's (a Makefile read could then
 * write into a build's private /output and distfiles).
 */
export function parseReadAs(spec: string | number): ReaderIdentity {
  const text = String(spec);
  const [user, group, ...rest] = text.split(':');
  if (rest.length || !user || group === '') throw new ReadAsError(text, 'expected uid[:gid] or user[:group], e.g. 65533:65533');
  const id = (part: string, db: 'passwd' | 'group'): { id: number; gid?: number } => {
    if (/^[0-9]+$/.test(part)) {
      const n = Number(part);
      if (n > MAX_ID) throw new ReadAsError(text, `${part} is not a valid ${db === 'passwd' ? 'uid' : 'gid'} (at most ${MAX_ID})`);
      return { id: n };
    }
    if (!NAME.test(part))
      throw new ReadAsError(text, `${JSON.stringify(part)} is neither a number nor a ${db === 'passwd' ? 'user' : 'group'} name`);
    const entry = getent(db, part, text);
    if (!entry)
      throw new ReadAsError(
        text,
        `there is no ${db === 'passwd' ? 'user' : 'group'} ${part} on this machine; create it or give a number (uid[:gid])`,
      );
    return db === 'passwd' ? { id: Number(entry[2]), gid: Number(entry[3]) } : { id: Number(entry[2]) };
  };
  const u = id(user, 'passwd');
  const identity = { uid: u.id, gid: group !== undefined ? id(group, 'group').id : (u.gid ?? u.id) };
  if (identity.uid === 0 || identity.gid === 0) {
    throw new ReadAsError(
      text,
      `that is root's ${identity.uid === 0 ? 'uid' : 'gid'} (0): reading the tree as root is what make.readAs protects against; give an unprivileged identity (default 65533:65533)`,
    );
  }
  if (identity.uid === BUILD_UID || identity.gid === BUILD_GID) {
    throw new ReadAsError(
      text,
      `${identity.uid === BUILD_UID ? `uid ${BUILD_UID}` : `gid ${BUILD_GID}`} is the chroot build user's: a Makefile read would then be able to write into a build's private /output and distfiles; give an identity of its own (default 65533:65533)`,
    );
  }
  return identity;
}
