import { posix } from 'node:path';
import { BadEnvironmentVariableError } from './errors.js';

/** Validates a clean environment and returns it as NAME=value pairs. */
export function checkEnv(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => {
    if (k === '' || k.includes('=') || k.includes('\0') || String(v).includes('\0')) throw new BadEnvironmentVariableError(k);
    return `${k}=${v}`;
  });
}

/** Maps `p` through the first [inside, host] prefix pair that contains it, or undefined. */
export function mapInsidePath(p: string, pairs: [string, string][]): string | undefined {
  const norm = posix.normalize(p);
  for (const [inside, host] of pairs) {
    if (norm === inside) return host;
    if (norm.startsWith(`${inside}/`)) return posix.join(host, norm.slice(inside.length + 1));
  }
  return undefined;
}
