/**
 * An operator's own page layout (`ui.templates_dir/layout.html`), parsed once at config load.
 * It is plain HTML with placeholders:
 *
 * - `{{name}}` – a text value, always escaped: `app_name`, `title`, `message`, `status`,
 *   `reason`, `request_id`, `support_url`, `logo_url`
 * - `{{> name}}` – a block Gatehouse builds from escaped parts: `style` (the `<style>` element
 *   the CSP hash covers), `who` (who is signed in), `details` (the page's own content: the
 *   provider list, the identity table, the IdP's message), `actions` (the next-step links)
 *
 * Refused, as a config problem: an unknown placeholder, a text placeholder inside a tag but
 * outside quotes (where it could begin an attribute), any `<script>`, a placeholder inside
 * `<style>`, and a layout without `{{> details}}` and `{{> actions}}` (a page that lost them
 * cannot be used).
 */

export const TEXT_SLOTS = [
  'app_name',
  'title',
  'message',
  'status',
  'reason',
  'request_id',
  'support_url',
  'logo_url',
] as const;
export type TextSlot = (typeof TEXT_SLOTS)[number];
export const BLOCK_SLOTS = ['style', 'who', 'details', 'actions'] as const;
export type BlockSlot = (typeof BLOCK_SLOTS)[number];

export type Segment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'text'; readonly name: TextSlot }
  | { readonly kind: 'block'; readonly name: BlockSlot };

export interface LayoutTemplate {
  readonly segments: readonly Segment[];
}

const PLACEHOLDER = /\{\{\s*(>\s*)?([a-z_]+)\s*\}\}/g;

/** @throws TypeError `ERR_INVALID_ARG_VALUE` naming the first problem */
export function parseLayout(source: string): LayoutTemplate {
  const fail = (message: string): never => {
    throw Object.assign(new TypeError(`layout.html: ${message}`), { code: 'ERR_INVALID_ARG_VALUE' });
  };
  if (/<script\b/i.test(source)) fail('<script> is not allowed (the pages run no script)');
  const segments: Segment[] = [];
  const seen = new Set<string>();
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    const at = m.index;
    const block = m[1] !== undefined;
    const name = m[2]!;
    if (at > last) segments.push({ kind: 'literal', text: source.slice(last, at) });
    last = at + m[0].length;
    const where = context(source, at);
    if (where === 'style') fail(`{{${m[0].slice(2, -2).trim()}}} inside <style> is not allowed`);
    if (block) {
      if (!(BLOCK_SLOTS as readonly string[]).includes(name))
        fail(`unknown block {{> ${name}}} (known: ${BLOCK_SLOTS.join(', ')})`);
      if (where !== 'text') fail(`{{> ${name}}} must stand between tags, not inside one`);
      segments.push({ kind: 'block', name: name as BlockSlot });
    } else {
      if (!(TEXT_SLOTS as readonly string[]).includes(name))
        fail(`unknown placeholder {{${name}}} (known: ${TEXT_SLOTS.join(', ')})`);
      if (where === 'tag') fail(`{{${name}}} inside a tag must be in a quoted attribute value`);
      segments.push({ kind: 'text', name: name as TextSlot });
    }
    seen.add(`${block ? '>' : ''}${name}`);
  }
  if (last < source.length) segments.push({ kind: 'literal', text: source.slice(last) });
  if (segments.some((s) => s.kind === 'literal' && /\{\{|\}\}/.test(s.text)))
    fail('a "{{" or "}}" that is not a placeholder');
  for (const required of ['details', 'actions'])
    if (!seen.has(`>${required}`)) fail(`{{> ${required}}} is missing`);
  return Object.freeze({ segments: Object.freeze(segments) });
}

/** Where offset `at` of `source` is: between tags, inside a tag outside quotes, or inside a quoted value / style. */
function context(source: string, at: number): 'text' | 'tag' | 'quoted' | 'style' {
  const before = source.slice(0, at);
  const styleOpen = before.toLowerCase().lastIndexOf('<style');
  if (styleOpen !== -1 && before.toLowerCase().indexOf('</style', styleOpen) === -1) return 'style';
  const open = before.lastIndexOf('<');
  if (open === -1 || before.lastIndexOf('>') > open) return 'text';
  // Inside a tag: count quotes since its start.
  let quote: string | undefined;
  for (const ch of before.slice(open)) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
  }
  return quote ? 'quoted' : 'tag';
}
