/** Listing the ports of a tree: `category/name` directories that hold a Makefile. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Top-level directories of a ports tree that are not categories. */
const NOT_CATEGORIES = new Set(['Mk', 'Templates', 'Tools', 'Keywords', 'Sites', 'distfiles', 'packages', 'work', 'CVS']);

export function isCategoryName(name: string): boolean {
  return !name.startsWith('.') && !NOT_CATEGORIES.has(name);
}

/**
 * Candidate port directories (`cat/name`), sorted: every subdirectory of a category. Cheap:
 * one readdir per category. The scanner reads each one it needs and drops those without a
 * Makefile (see ScanOptions.optional).
 */
export function listPortDirs(tree: string): string[] {
  const out: string[] = [];
  for (const cat of readdirSync(tree, { withFileTypes: true })) {
    if (!cat.isDirectory() || !isCategoryName(cat.name)) continue;
    const catPath = join(tree, cat.name);
    for (const port of readdirSync(catPath, { withFileTypes: true })) {
      if (!port.isDirectory() || port.name.startsWith('.')) continue;
      out.push(`${cat.name}/${port.name}`);
    }
  }
  return out.sort();
}
