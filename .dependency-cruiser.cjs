/**
 * The shape of src/, checked in CI (`npm run lint`): no import cycles, and data flowing one way —
 * fingerprint → config → ports → graph → builddb → repository, report → plan (reconcile's planning)
 * → builder, distributed → pass and loop (reconcile) → notify → server → client → cli. Type-only imports count: a cycle of types is still a
 * cycle of meaning. The one allowed cycle is the CLI's command table loading `help`/`completion`
 * lazily (they list the table).
 */
const layer = (name, from, forbidden, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: forbidden },
});
const ALL_ABOVE = (...names) => `^src/(${names.join('|')})/`;
const PLANNING = '^src/reconcile/(plan|plan-snapshot|kept-observation|decide|observe|known|explain|source|git)\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make the layers meaningless; move the shared type or helper down a layer.',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['dynamic-import'] } },
    },
    layer(
      'fingerprint-is-a-leaf',
      '^src/fingerprint/',
      ALL_ABOVE('config', 'ports', 'graph', 'builddb', 'reconcile', 'builder', 'notify', 'server', 'cli', 'report', 'distributed'),
      'fingerprint is pure hashing: it knows nothing of the rest',
    ),
    layer(
      'config-below-ports',
      '^src/config/',
      ALL_ABOVE('ports', 'graph', 'builddb', 'reconcile', 'builder', 'notify', 'server', 'cli', 'report', 'distributed'),
      'config is the desired state: nothing downstream',
    ),
    layer(
      'ports-below-graph',
      '^src/ports/',
      ALL_ABOVE('graph', 'builddb', 'reconcile', 'builder', 'notify', 'server', 'cli', 'report', 'distributed'),
      'reading the tree does not know about graphs, records or builds',
    ),
    layer(
      'graph-below-records',
      '^src/graph/',
      ALL_ABOVE('builddb', 'reconcile', 'builder', 'notify', 'server', 'cli', 'report', 'distributed'),
      'the graph is pure structure',
    ),
    layer(
      'builddb-below-plan',
      '^src/builddb/',
      ALL_ABOVE('ports', 'graph', 'reconcile', 'builder', 'notify', 'server', 'cli', 'report', 'distributed'),
      'the build database stores; it does not plan or build',
    ),
    layer(
      'repository-low',
      '^src/repository/',
      ALL_ABOVE('ports', 'graph', 'reconcile', 'builder', 'notify', 'server', 'cli', 'client', 'report', 'distributed'),
      'the published repository: files and snapshots, nothing of plans or builds',
    ),
    layer(
      'report-reads-records',
      '^src/report/',
      ALL_ABOVE('ports', 'graph', 'reconcile', 'builder', 'notify', 'server', 'cli', 'client', 'distributed'),
      'a report is made from the database',
    ),
    layer(
      'distributed-is-an-executor',
      '^src/distributed/',
      ALL_ABOVE('notify', 'server', 'cli', 'client'),
      'the distributed executor runs builds; it does not serve or notify',
    ),
    layer(
      'plan-below-builder',
      PLANNING,
      ALL_ABOVE('builder', 'notify', 'server', 'cli', 'report', 'distributed'),
      'planning decides; building, notifying and serving come after it',
    ),
    layer(
      'builder-below-pass',
      '^src/builder/',
      '^src/(notify|server|cli)/|^src/reconcile/(pass|loop|watch|passLock)\\.ts$',
      'the builder runs a plan; the pass and the loop drive it',
    ),
    layer('notify-below-server', '^src/notify/', ALL_ABOVE('server', 'cli'), 'notifications are observers of a pass'),
    layer('only-cli-imports-cli', '^src/(?!cli/)', '^src/cli/', 'the CLI is the top'),
    layer('server-below-client', '^src/(?!server/|client/|cli/)', '^src/server/', 'only the CLI (and its client) start or read the daemon'),
    layer(
      'client-below-cli',
      '^src/(?!cli/|client/)',
      '^src/client/(?!request\\.ts$)',
      "the client is the CLI's way to the history; the daemon uses only its socket request (is one running?)",
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
