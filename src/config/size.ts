/** Sizes as builds.yaml writes them. */

/** `8g`, `512m`, `64k` (the schema checked the form) in bytes. */
export function parseSize(size: string): number {
  const units: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  return Number(size.slice(0, -1)) * units[size.slice(-1).toLowerCase()]!;
}
