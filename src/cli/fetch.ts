/** `portsync fetch [ORIGIN...]`: fetch and checksum the distfiles of the closure, in parallel. Exit 0, 1 some failed. */
import { resolvePassSource } from '../reconcile/source.js';
import { progressFor } from '../builder/progress.js';
import { reconcilePass } from '../reconcile/pass.js';
import { isOriginGlob } from '../config/selectors.js';
import { defineCommand } from './command.js';

export const fetch = defineCommand({
  name: 'fetch',
  summary: 'fetch and checksum the distfiles of the closure, without building',
  args: [
    {
      name: 'ORIGIN',
      kind: 'pattern',
      optional: true,
      repeat: true,
      description: "these ports (origins or globs such as 'devel/*') and their dependencies instead of builds.yaml's ports",
    },
  ],
  options: {},
  description: `Runs the fetch and checksum phases of every port of the closure (builds.yaml's ports and their dependencies, or ORIGIN... and theirs), in parallel on the build workers, whatever their packages' state: a distfile may be missing for a port whose package is up to date. Distfiles land in paths.distfiles; each port's output goes to <paths.logs>/<category>___<name>.fetch.log. Nothing is recorded in the build database.`,
  exits: [
    ['0', 'every distfile fetched and checked'],
    ['1', 'some port failed to fetch, or was blocked'],
    ['2', 'invalid builds.yaml or bad usage'],
  ],
  examples: [['portsync fetch textproc/gamma', 'the distfiles of textproc/gamma and of what it needs']],
  async run(ctx, { args }) {
    const { state: loaded, tree } = await resolvePassSource(ctx.configFile);
    // Fetch-only works on the given origins (or builds.yaml's ports) and forces every one.
    const state = args.length
      ? { ...loaded, ports: args.map((p) => ({ pattern: p, isGlob: isOriginGlob(p), vars: {}, suspend: false, line: 0, col: 0 })) }
      : loaded;
    const progress = progressFor(process.stdout, ctx.io.out);
    const result = await reconcilePass(state, { trigger: 'fetch', progress, log: ctx.io.err, fetchOnly: true, tree });
    const failed = result.ports.filter((p) => p.status === 'failed');
    for (const p of failed) ctx.io.out(`fetch failed: ${p.origin}: ${p.error ?? ''} (log: ${p.logPath})`);
    const fetched = result.ports.filter((p) => p.status === 'success').length;
    ctx.io.out(`fetch: ${fetched} ports fetched and checked, ${failed.length} failed, ${result.stats.ignored} ignored`);
    return failed.length || result.stats.blocked ? 1 : 0;
  },
});
