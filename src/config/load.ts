import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basename, dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, visit, type Document } from 'yaml';
import { ConfigError, DurationError, type ConfigIssue } from './errors.js';
import { parseDuration } from './duration.js';
import { pathProblems } from './paths.js';
import { buildsValidator, describePath, describeSchemaErrors } from './schema.js';
import { isOriginGlob, originPatternProblem } from './selectors.js';
import { ReadAsError, parseReadAs } from './readAs.js';
import type { Cascade } from '../fingerprint/types.js';
import type { DesiredState, EnvironmentBackend, Limits, NetworkPolicy, PortLimits, PortSelector, TmpfsSizes, TreeSource } from './types.js';
import { YamlLocator, type ConfigPath } from './yaml-locator.js';
import { parseSize } from './size.js';
import { executorOf, executorProblems, type RawExecutor } from './executor.js';
import { hooksNotifyProblems, hooksOf, notifyTargetsOf, type RawHooks, type RawNotifyTarget } from './notify.js';

/** The global `limits:` as written, the schema's defaults filled in. */
interface RawLimits {
  phaseTimeout: string | number;
  noOutputTimeout: string | number;
  network: NetworkPolicy;
  memory?: string;
  pids: number;
  cpus?: number;
  tmpfs: TmpfsSizes;
}
/** A port's `limits:`: no defaults, only the keys it overrides. */
type RawPortLimits = Partial<Omit<RawLimits, 'tmpfs'>> & { tmpfs?: Partial<TmpfsSizes> };

/** builds.yaml after the schema filled in its defaults; only read once it validated. */
interface RawConfig {
  portsTree: { path: string; source: TreeSource; branch: string };
  make: { command: string; env: Record<string, string>; vars: Record<string, string>; profile?: string; readAs: string | number };
  paths: DesiredState['paths'];
  workers: number;
  makeJobs: number;
  environment: { backend: EnvironmentBackend };
  limits: RawLimits;
  ports: (string | { origin: string; vars: Record<string, string>; suspend: boolean; limits?: RawPortLimits })[];
  policy: { cascade?: Cascade; rebuildDependents?: boolean; prune?: boolean };
  watch: { resyncInterval: string | number; debounce: string | number };
  server: { socket: string; listen?: string; webhookSecretEnv: string; allowInsecure: boolean };
  hooks: RawHooks;
  notify: RawNotifyTarget[];
  executor: RawExecutor;
  repository: { catalogCommand?: string; catalogTimeout: string | number; name: string; keep: number };
  logs: { keep: number };
}

interface Analysis {
  state: DesiredState | undefined;
  issues: ConfigIssue[];
  locator: YamlLocator | undefined;
  /** portsTree.path resolved, when it is a string: checked even when other keys are wrong. */
  treePath: string | undefined;
}

/**
 * Reads and validates builds.yaml, including that the ports tree exists.
 * Throws ConfigError listing every problem found.
 */
export async function loadDesiredState(file: string): Promise<DesiredState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file; create it or pass --config FILE' : (e as Error).message;
    throw new ConfigError(file, [{ file, line: 1, col: 1, message: `cannot read ${resolve(file)}: ${reason}` }], { cause: e });
  }
  const { state, issues, locator, treePath } = analyzeDesiredState(text, file);
  if (treePath !== undefined && locator) {
    const problem = await directoryProblem(treePath);
    if (problem) issues.push({ file, ...locator.valuePos(['portsTree', 'path']), message: `portsTree.path: ${problem}` });
  }
  if (issues.length > 0 || !state) throw new ConfigError(file, sortIssues(issues));
  return state;
}

/**
 * Validates builds.yaml text (e.g. read from a git commit) without touching the filesystem:
 * everything but the ports tree's existence is checked. Throws ConfigError listing every problem.
 */
/** Do two readings of builds.yaml say the same (a long-lived process then keeps the first object, and what it memoized for it)? */
export function sameDesiredState(a: DesiredState, b: DesiredState): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

export function parseDesiredState(text: string, file: string): DesiredState {
  const { state, issues } = analyzeDesiredState(text, file);
  if (issues.length > 0 || !state) throw new ConfigError(file, issues);
  return state;
}

async function directoryProblem(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path);
    return st.isDirectory() ? undefined : `${path} is not a directory; point it at a ports tree`;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${path} does not exist; point it at a ports tree` : `cannot use ${path}: ${(e as Error).message}`;
  }
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

function analyzeDesiredState(text: string, file: string): Analysis {
  const fileName = basename(file);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => ({ file, ...lines.linePos(e.pos[0]), message: `YAML syntax: ${e.message}` }));
    return { state: undefined, issues: sortIssues(issues), locator: undefined, treePath: undefined };
  }
  const locator = new YamlLocator(doc, lines);
  const issues: ConfigIssue[] = [];
  const issueAt = (path: ConfigPath, message: string, at: 'value' | 'key' = 'value') =>
    issues.push({ file, ...(at === 'key' ? locator.keyPos(path) : locator.valuePos(path)), message });

  const aliasIssues = unresolvedAliases(doc, lines, file);
  if (aliasIssues.length > 0) return { state: undefined, issues: aliasIssues, locator, treePath: undefined };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    return {
      state: undefined,
      issues: [{ file, line: 1, col: 1, message: `YAML: ${(e as Error).message}` }],
      locator,
      treePath: undefined,
    };
  }
  if (data === null || data === undefined) data = {}; // an empty file: report the missing keys
  const hasMakeCommand = isRecord(data) && isRecord(data.make) && data.make.command !== undefined;

  const validate = buildsValidator();
  const valid = validate(data);
  const problems = valid ? [] : describeSchemaErrors(validate.errors ?? [], fileName);
  for (const p of problems) issueAt(p.path, p.message, p.at);
  const flagged = new Set(problems.map((p) => p.path.join('/')));
  const isFlagged = (path: ConfigPath) => flagged.has(path.join('/'));

  if (isRecord(data)) checkSemantics(data, fileName, locator, issueAt, isFlagged);
  const dir = dirname(resolve(file));
  const rawTreePath = valueAt(data, ['portsTree', 'path']);
  const treePath = typeof rawTreePath === 'string' && rawTreePath !== '' ? resolve(dir, rawTreePath) : undefined;
  if (issues.length > 0) return { state: undefined, issues: sortIssues(issues), locator, treePath };

  const raw = data as unknown as RawConfig;
  const state = toDesiredState(raw, resolve(file), dir, hasMakeCommand, locator);
  for (const p of pathProblems(state)) issueAt(['paths', p.key], p.message);
  if (issues.length > 0) return { state: undefined, issues: sortIssues(issues), locator, treePath };
  return { state, issues: [], locator, treePath };
}

/** An unquoted glob such as `- *\/*` is a YAML alias, not a string: the YAML trap of every ports list. */
function unresolvedAliases(doc: Document, lines: LineCounter, file: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  visit(doc, {
    Alias(_, node) {
      if (node.resolve(doc)) return;
      const text = `*${node.source}`;
      const hint = node.source.includes('/') ? `; a glob starting with * must be quoted: "${text}"` : '';
      issues.push({ file, ...lines.linePos(node.range?.[0] ?? 0), message: `YAML: ${text} refers to no anchor (&${node.source})${hint}` });
    },
  });
  return issues;
}

/** The checks a JSON Schema cannot express. Tolerates data the schema already rejected. */
function checkSemantics(
  data: Record<string, unknown>,
  fileName: string,
  locator: YamlLocator,
  issueAt: (path: ConfigPath, message: string) => void,
  isFlagged: (path: ConfigPath) => boolean,
): void {
  const ports = Array.isArray(data.ports) ? (data.ports as unknown[]) : [];
  const firstSeen = new Map<string, number>();
  ports.forEach((entry, i) => {
    const path: ConfigPath = typeof entry === 'string' ? ['ports', i] : ['ports', i, 'origin'];
    const pattern = typeof entry === 'string' ? entry : isRecord(entry) ? entry.origin : undefined;
    if (typeof pattern !== 'string' || pattern === '' || isFlagged(path)) return;
    const problem = originPatternProblem(pattern);
    if (problem) return issueAt(path, `${describePath(['ports', i], fileName)}: ${problem}`);
    const line = locator.valuePos(['ports', i]).line;
    const first = firstSeen.get(pattern);
    if (first !== undefined) issueAt(path, `duplicate port "${pattern}": already listed at line ${first}`);
    else firstSeen.set(pattern, line);
  });

  // The global limits and each port's own: the same checks, at the place of each.
  const limitBlocks: ConfigPath[] = [
    ['limits'],
    ...ports.flatMap((e, i): ConfigPath[] => (isRecord(e) && isRecord(e.limits) ? [['ports', i, 'limits']] : [])),
  ];
  for (const block of limitBlocks) {
    for (const key of ['memory', 'tmpfs/construction', 'tmpfs/localbase', 'tmpfs/tmp']) {
      const path: ConfigPath = [...block, ...key.split('/')];
      const value = valueAt(data, path);
      if (typeof value !== 'string' || isFlagged(path)) continue;
      const problem = sizeProblem(value, key === 'memory' ? 'memory' : 'tmpfs');
      if (problem) issueAt(path, `${describePath(path, fileName)}: ${problem}`);
    }
  }
  const durations: { path: ConfigPath; positive: boolean }[] = [
    ...limitBlocks.flatMap((block) => [
      { path: [...block, 'phaseTimeout'], positive: true },
      { path: [...block, 'noOutputTimeout'], positive: true },
    ]),
    { path: ['watch', 'resyncInterval'], positive: true },
    { path: ['watch', 'debounce'], positive: false },
    { path: ['repository', 'catalogTimeout'], positive: true },
  ];
  for (const { path, positive } of durations) {
    const value = valueAt(data, path);
    if ((typeof value !== 'string' && typeof value !== 'number') || isFlagged(path)) continue;
    const where = describePath(path, fileName);
    try {
      if (positive && parseDuration(value) === 0) issueAt(path, `${where} must be more than zero`);
    } catch (e) {
      if (!(e instanceof DurationError)) throw e;
      issueAt(path, `${where}: ${e.message}`);
    }
  }

  const readAs = valueAt(data, ['make', 'readAs']);
  if ((typeof readAs === 'string' || typeof readAs === 'number') && !isFlagged(['make', 'readAs'])) {
    try {
      parseReadAs(readAs);
    } catch (e) {
      if (!(e instanceof ReadAsError)) throw e;
      issueAt(['make', 'readAs'], e.message);
    }
  }

  const listen = valueAt(data, ['server', 'listen']);
  if (typeof listen === 'string' && listen !== '') {
    const problem = listenProblem(listen);
    if (problem) issueAt(['server', 'listen'], `server.listen: ${problem}`);
  }
  hooksNotifyProblems(data, fileName, issueAt, isFlagged);
  for (const p of executorProblems(data.executor, listenProblem))
    if (!isFlagged(['executor', p.key])) issueAt(['executor', p.key], p.message);
}

/**
 * Why a size the schema accepted (`8g`, `512m`, `50%`) cannot be used, or undefined: zero means
 * "no limit" to tmpfs and to the cgroup, never what was meant.
 */
function sizeProblem(size: string, what: 'memory' | 'tmpfs'): string | undefined {
  if (size.endsWith('%')) return undefined;
  const bytes = parseSize(size);
  if (bytes === 0)
    return `${JSON.stringify(size)} is zero; give a size above zero${what === 'memory' ? ', or leave the key out for no limit' : ''}`;
  if (!Number.isSafeInteger(bytes)) return `${JSON.stringify(size)} is too large; give a size the machine could have, e.g. 64g`;
  return undefined;
}

/** Why `host:port` is unusable, or undefined. IPv6 hosts go in brackets: `[::1]:8787`. */
export function listenProblem(listen: string): string | undefined {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]+)):(\d+)$/.exec(listen);
  const usage = 'use host:port, e.g. 127.0.0.1:8787 or [::1]:8787';
  if (!m) return `"${listen}" is not host:port; ${usage}`;
  const [, v6, host, port] = m;
  if (v6 !== undefined && isIP(v6) !== 6) return `"${v6}" is not an IPv6 address; ${usage}`;
  if (
    host !== undefined &&
    isIP(host) === 0 &&
    !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)
  ) {
    return `"${host}" is not a host name or IP address; ${usage}`;
  }
  const n = Number(port);
  if (n < 1 || n > 65535) return `port ${port} is out of range (1-65535)`;
  return undefined;
}

function toDesiredState(raw: RawConfig, file: string, dir: string, hasMakeCommand: boolean, locator: YamlLocator): DesiredState {
  const abs = (p: string) => resolve(dir, p);
  const env = Object.fromEntries(Object.entries(raw.make.env).map(([k, v]) => [k, /^\.\.?\//.test(v) ? abs(v) : v]));
  const ports = raw.ports.map((entry, i): PortSelector => {
    const { origin, vars, suspend, limits } =
      typeof entry === 'string' ? { origin: entry, vars: {}, suspend: false, limits: undefined } : entry;
    const own = limits ? portLimitsOf(limits) : undefined;
    return {
      pattern: origin,
      isGlob: isOriginGlob(origin),
      vars: { ...vars },
      suspend,
      ...(own ? { limits: own } : {}),
      ...locator.valuePos(['ports', i]),
    };
  });
  return {
    file,
    dir,
    portsTree: { ...raw.portsTree, path: abs(raw.portsTree.path) },
    make: {
      command: hasMakeCommand ? raw.make.command : process.platform === 'linux' ? 'bmake' : raw.make.command,
      env,
      vars: { ...raw.make.vars },
      // A profile path (it contains a slash) resolves against builds.yaml's directory; a name stays a name.
      ...(raw.make.profile !== undefined ? { profile: raw.make.profile.includes('/') ? abs(raw.make.profile) : raw.make.profile } : {}),
      readAs: parseReadAs(raw.make.readAs), // checked in checkSemantics
    },
    paths: {
      buildBase: abs(raw.paths.buildBase),
      packages: abs(raw.paths.packages),
      distfiles: abs(raw.paths.distfiles),
      logs: abs(raw.paths.logs),
      database: abs(raw.paths.database),
    },
    workers: raw.workers,
    makeJobs: raw.makeJobs,
    environment: { backend: raw.environment.backend },
    limits: globalLimits(raw.limits),
    ports,
    policy: { cascade: cascadeOf(raw.policy), prune: raw.policy.prune ?? false },
    warnings: policyWarnings(raw.policy, file, locator),
    watch: { resyncIntervalMs: parseDuration(raw.watch.resyncInterval), debounceMs: parseDuration(raw.watch.debounce) },
    server: {
      socket: abs(raw.server.socket),
      ...(raw.server.listen !== undefined ? { listen: raw.server.listen } : {}),
      webhookSecretEnv: raw.server.webhookSecretEnv,
      allowInsecure: raw.server.allowInsecure,
    },
    hooks: hooksOf(raw.hooks, dir),
    notify: notifyTargetsOf(raw.notify, locator),
    executor: executorOf(raw.executor),
    repository: {
      ...(raw.repository.catalogCommand !== undefined ? { catalogCommand: commandRelativeTo(raw.repository.catalogCommand, dir) } : {}),
      catalogTimeoutMs: parseDuration(raw.repository.catalogTimeout),
      name: raw.repository.name,
      keep: raw.repository.keep,
    },
    logs: { keep: raw.logs.keep },
  };
}

/** A shell command whose first word starts with ./ or ../: that word made absolute against builds.yaml's directory (quoted for the shell). */
function commandRelativeTo(command: string, dir: string): string {
  const m = /^(\s*)(\.\.?\/\S*)(.*)$/s.exec(command);
  return m ? `${m[1]}'${resolve(dir, m[2]!).replaceAll("'", "'\\''")}'${m[3]}` : command;
}

/** builds.yaml's `limits`: the schema filled in every default (memory and cpus have none: no limit). */
function globalLimits(raw: RawLimits): Limits {
  return {
    ...portLimitsOf(raw),
    phaseTimeoutMs: parseDuration(raw.phaseTimeout),
    noOutputTimeoutMs: parseDuration(raw.noOutputTimeout),
    network: raw.network,
    pids: raw.pids,
    tmpfs: { ...raw.tmpfs },
  };
}

/** The keys a `limits:` block gives. */
function portLimitsOf(raw: RawPortLimits): PortLimits {
  const out: PortLimits = {};
  if (raw.phaseTimeout !== undefined) out.phaseTimeoutMs = parseDuration(raw.phaseTimeout);
  if (raw.noOutputTimeout !== undefined) out.noOutputTimeoutMs = parseDuration(raw.noOutputTimeout);
  if (raw.network !== undefined) out.network = raw.network;
  if (raw.memory !== undefined) out.memoryBytes = parseSize(raw.memory);
  if (raw.pids !== undefined) out.pids = raw.pids;
  if (raw.cpus !== undefined) out.cpus = raw.cpus;
  if (raw.tmpfs !== undefined) out.tmpfs = { ...raw.tmpfs };
  return out;
}

/** policy.cascade, or what the deprecated policy.rebuildDependents meant (true: inputs, false: none). */
function cascadeOf(policy: RawConfig['policy']): Cascade {
  if (policy.cascade) return policy.cascade;
  if (policy.rebuildDependents !== undefined) return policy.rebuildDependents ? 'inputs' : 'none';
  return 'output';
}

function policyWarnings(policy: RawConfig['policy'], file: string, locator: YamlLocator): string[] {
  if (policy.rebuildDependents === undefined) return [];
  const { line, col } = locator.keyPos(['policy', 'rebuildDependents']);
  const meant = policy.rebuildDependents ? 'inputs' : 'none';
  return [
    policy.cascade
      ? `${file}:${line}:${col}: policy.rebuildDependents is deprecated and ignored: policy.cascade (${policy.cascade}) is set; remove rebuildDependents`
      : `${file}:${line}:${col}: policy.rebuildDependents is deprecated: it means "policy.cascade: ${meant}"; write that instead (the default, output, rebuilds dependents only when a dependency's package changed)`,
  ];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function valueAt(data: unknown, path: ConfigPath): unknown {
  let v = data;
  for (const seg of path) v = isRecord(v) || Array.isArray(v) ? (v as Record<string, unknown>)[seg] : undefined;
  return v;
}
