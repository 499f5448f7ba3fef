/** agent.yaml: a build host's own settings (schema/agent.schema.json). */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import { parseDuration } from '../config/duration.js';
import { compileBuildsValidator, describeSchemaErrors } from '../config/schema.js';
import { YamlLocator } from '../config/yaml-locator.js';
import type { BackendName } from '../builder/sandbox/types.js';

export const AGENT_SCHEMA_FILE = new URL('../../schema/agent.schema.json', import.meta.url);

export interface AgentConfig {
  file: string;
  redis: string;
  queue: string;
  /** Recorded in builds.host. */
  name: string;
  workers: number;
  portsTree: string;
  paths: { buildBase: string; distfiles: string; logs: string };
  backend: BackendName;
  tokenEnv: string;
  lockTimeoutMs: number;
}

interface RawAgent {
  redis: string;
  queue: string;
  name?: string;
  workers: number;
  portsTree: string;
  paths: { buildBase: string; distfiles: string; logs: string };
  environment: { backend: BackendName };
  tokenEnv: string;
  lockTimeout: string;
}

let validator: ValidateFunction | undefined;
/** Compiled as builds.yaml's schema is (the same options: the messages describeSchemaErrors writes need them). */
function agentValidator(): ValidateFunction {
  validator ??= compileBuildsValidator(readFileSync(AGENT_SCHEMA_FILE, 'utf8')).validate;
  return validator;
}

/** Reads and checks agent.yaml; throws ConfigError listing every problem as FILE:LINE:COL. */
export function loadAgentConfig(file: string): AgentConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const why =
      (e as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file; write one (see README, "Building on several machines") and pass it with --config'
        : (e as Error).message;
    throw new ConfigError(abs, [{ file: abs, line: 1, col: 1, message: `cannot read ${abs}: ${why}` }], { cause: e });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length)
    throw new ConfigError(
      abs,
      doc.errors.map((e) => ({ file: abs, ...lines.linePos(e.pos[0]), message: `YAML syntax: ${e.message}` })),
    );
  const data = (doc.toJS() ?? {}) as Record<string, unknown>;
  const locator = new YamlLocator(doc, lines);
  const issues: ConfigIssue[] = [];
  if (typeof data === 'object' && data !== null && 'portsTree' in data && 'ports' in data) {
    issues.push({
      file: abs,
      line: 1,
      col: 1,
      message:
        'this is a builds.yaml, not an agent.yaml: portsync agent reads its own file (redis, portsTree, workers, paths); pass it with --config agent.yaml',
    });
    throw new ConfigError(abs, issues);
  }
  const validate = agentValidator();
  if (!validate(data)) {
    for (const p of describeSchemaErrors(validate.errors ?? [], basename(abs))) {
      issues.push({ file: abs, ...(p.at === 'key' ? locator.keyPos(p.path) : locator.valuePos(p.path)), message: p.message });
    }
    throw new ConfigError(
      abs,
      issues.sort((a, b) => a.line - b.line || a.col - b.col),
    );
  }
  const raw = data as unknown as RawAgent;
  const dir = dirname(abs);
  let lockTimeoutMs: number;
  try {
    lockTimeoutMs = parseDuration(raw.lockTimeout);
  } catch (e) {
    throw new ConfigError(abs, [{ file: abs, ...locator.valuePos(['lockTimeout']), message: `lockTimeout: ${(e as Error).message}` }]);
  }
  if (lockTimeoutMs < 1000)
    throw new ConfigError(abs, [
      {
        file: abs,
        ...locator.valuePos(['lockTimeout']),
        message: 'lockTimeout must be at least 1s (the agent renews its job locks at half of it)',
      },
    ]);
  return {
    file: abs,
    redis: raw.redis,
    queue: raw.queue,
    name: raw.name ?? hostname(),
    workers: raw.workers,
    portsTree: resolve(dir, raw.portsTree),
    paths: {
      buildBase: resolve(dir, raw.paths.buildBase),
      distfiles: resolve(dir, raw.paths.distfiles),
      logs: resolve(dir, raw.paths.logs),
    },
    backend: raw.environment.backend,
    tokenEnv: raw.tokenEnv,
    lockTimeoutMs,
  };
}
