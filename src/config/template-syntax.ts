/** The syntax of `notify:` templates: `{{name}}` and `{{env.NAME}}` (checked when builds.yaml is loaded; rendered by src/notify/template.ts). */

/** The values an event offers to templates. */
export const TEMPLATE_VARS = [
  'commit',
  'shortCommit',
  'state',
  'status',
  'description',
  'context',
  'runId',
  'trigger',
  'target',
  'event',
  'config',
] as const;
export type TemplateVar = (typeof TEMPLATE_VARS)[number];

export const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `text` is not a usable template (unknown placeholders), or undefined. */
export function templateProblem(text: string): string | undefined {
  const bad: string[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) {
    const name = m[1]!;
    if (name.startsWith('env.') ? !ENV_NAME.test(name.slice(4)) : !(TEMPLATE_VARS as readonly string[]).includes(name))
      bad.push(`{{${name}}}`);
  }
  if (!bad.length) return undefined;
  return `unknown placeholder${bad.length > 1 ? 's' : ''} ${bad.join(', ')}; use ${TEMPLATE_VARS.map((v) => `{{${v}}}`).join(', ')} or {{env.NAME}}`;
}
