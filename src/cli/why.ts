/** `portsync why ORIGIN [--json]`: which inputs changed since its last good build. Exit 0. */
import { resolvePassSource } from '../reconcile/source.js';
import { UnknownOriginError } from '../reconcile/errors.js';
import { explain, formatExplanation } from '../reconcile/explain.js';
import { locatedOf, openClient } from '../client/index.js';
import { observe } from '../reconcile/observe.js';
import { makePlanReadingParts } from '../reconcile/plan.js';
import { readKeyParts } from '../reconcile/known.js';
import { defineCommand } from './command.js';
import { printJson } from './io.js';

export const why = defineCommand({
  name: 'why',
  summary: 'why ORIGIN would (not) rebuild: the inputs changed since its last good build',
  args: [
    {
      name: 'ORIGIN',
      kind: 'origin',
      description: 'the port: category/name or category/name@flavor (a dependency no entry of builds.yaml names is fine)',
    },
  ],
  options: { json: { description: 'print the explanation as JSON: state, reasons, last good build, changed key parts' } },
  description: `Compares the port's build key now with the one of its last successful build, part by part (the port's files, the framework's makefiles and scripts, make variables and options, the build environment, each dependency as policy.cascade counts it), and says what the next reconcile will do with it and why: up to date, build (which part changed), pending (it rebuilds only if a rebuilt dependency's package changes), blocked (failed at these inputs, a missing or ignored dependency, a cycle) or ignored. It also says when a dependency was rebuilt since without its result counting.`,
  exits: [
    ['0', 'explained'],
    ['2', 'the port is not in the tree or not in the closure of builds.yaml, or bad usage'],
  ],
  examples: [['portsync why textproc/gamma', 'why textproc/gamma would or would not rebuild']],
  async run(ctx, { values, args }) {
    const origin = args[0]!;
    const { state, tree } = await resolvePassSource(ctx.configFile);
    const history = await openClient(locatedOf(state));
    try {
      const obs = await observe(state, { tree, extraRoots: [origin] });
      const readParts = (origins: readonly string[]) => history.knownOf(origins);
      const plan = await makePlanReadingParts(obs, { known: await history.knownWithoutParts() }, readParts);
      // The port explained is compared part by part with its last build: its recorded parts are read (unless the plan did).
      const canonical = obs.scan.resolve(origin) ?? origin;
      const known = new Map([...plan.known, ...(await readKeyParts(plan.known, [canonical], readParts))]);
      const e = await explain(plan, origin, known, (o) => history.lastGood(o));
      if (!e) throw new UnknownOriginError(origin);
      if (e.reasons[0]?.kind === 'no-such-port') throw new UnknownOriginError(origin, `: ${e.reasons[0].detail}`);
      if (values.json) printJson(ctx.io, e);
      else for (const l of formatExplanation(e)) ctx.io.out(l);
      return 0;
    } finally {
      await history.close();
    }
  },
});
