/** `portsync adopt [--json] [ORIGIN...]`: record the packages already in the repository as built at their current inputs. */
import { BuildDB } from '../builddb/db.js';
import { adoptRepository, type AdoptionReport } from '../reconcile/adopt.js';
import { acquirePassLock } from '../reconcile/passLock.js';
import { resolvePassSource } from '../reconcile/source.js';
import { defineCommand } from './command.js';
import { printJson, type Io } from './io.js';

/** Ports or packages listed one by one in the text output; the rest are counted. */
const LISTED = 20;

export const adopt = defineCommand({
  name: 'adopt',
  summary: 'record the packages already in the repository as built (switching from poudriere or dsynth)',
  args: [
    {
      name: 'ORIGIN',
      kind: 'origin',
      optional: true,
      repeat: true,
      description: 'only these ports and what they need (default: the whole desired state)',
    },
  ],
  options: { json: { description: 'print the report as JSON: runId, adopted, inSync, noPackage, ignored, notAdopted, orphans' } },
  description: `For a repository built by another tool (poudriere, dsynth, an earlier portsync install): every port of the desired state whose exact package file (its PKGFILE, in paths.packages/All) is in the repository is recorded as built at its current inputs — build key, package identity and checksum — so that the next reconcile builds only what has no package or changes later. Nothing is built and no package is changed.

Everything is recorded in one transaction, with a run of trigger "adopt" and one build per adopted port (reason "adopted"). A port is adopted only when each of its dependencies is adopted or already up to date. Ports already up to date are left as they are. Then it says how many ports were adopted, which have no package (the next pass builds them), which could not be adopted and why, and which packages in the repository belong to no port of the desired state (policy.prune removes those; see \`portsync status\`).

Adopting takes the project's pass lock: not while a pass or \`portsync watch\` runs. A package file that cannot be read as a package stops it before anything is recorded, naming the file.`,
  exits: [
    ['0', 'done (also when some ports have no package)'],
    ['2', 'an unreadable package, an ORIGIN not in the closure, a pass running, invalid builds.yaml'],
  ],
  examples: [
    ['portsync adopt', 'adopt every package of the desired state that is in the repository'],
    ['portsync adopt --json | jq .noPackage', 'the ports the next reconcile will build'],
  ],
  async run(ctx, { values, args }) {
    const { state, tree } = await resolvePassSource(ctx.configFile);
    const lock = await acquirePassLock(state.paths.buildBase, `portsync adopt (pid ${process.pid})`);
    try {
      const db = await BuildDB.open(state.paths.database, { processInfo: `portsync adopt (pid ${process.pid})` });
      try {
        const report = await adoptRepository(state, tree, db, { only: args });
        if (values.json) printJson(ctx.io, report);
        else printAdoption(ctx.io, report);
        return 0;
      } finally {
        await db.close();
      }
    } finally {
      lock.release();
    }
  },
});

function listed<T>(io: Io, title: string, items: readonly T[], line: (x: T) => string): void {
  if (!items.length) return;
  io.out(`${title}:`);
  for (const x of items.slice(0, LISTED)) io.out(`  ${line(x)}`);
  if (items.length > LISTED) io.out(`  … and ${items.length - LISTED} more (--json lists them all)`);
}

function printAdoption(io: Io, r: AdoptionReport): void {
  listed(io, 'no package (the next reconcile builds them)', r.noPackage, (p) => `${p.origin} (${p.pkgfile})`);
  listed(io, 'not adopted', r.notAdopted, (p) => `${p.origin}: ${p.reason}`);
  listed(io, 'packages of no port of the desired state', r.orphans, (o) => `${o.pkgfile}: ${o.reason}`);
  io.out(
    `adopt: ${r.adopted.length} ports adopted${r.runId ? ` (run ${r.runId})` : ''}, ${r.inSync.length} already up to date, ${r.noPackage.length} without a package, ` +
      `${r.notAdopted.length} not adopted, ${r.ignored.length} ignored; ${r.orphans.length} packages of no desired port`,
  );
}
