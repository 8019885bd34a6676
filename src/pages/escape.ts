/**
 * The one HTML escape every page goes through, and `html`, a tagged template that escapes each
 * interpolated value unless it is {@link SafeHtml} built the same way. A page module never joins
 * raw strings into markup: what it did not build with `html` is text, and text is escaped.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Cross_Site_Scripting_Prevention_Cheat_Sheet.html
 */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Text for an HTML element or a quoted attribute value – the only two places a value goes: the
 * templates here quote every attribute, and an operator's layout may not put a placeholder
 * unquoted inside a tag (`layout-template.ts`).
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

/** Markup made by {@link html}: the only kind a page interpolates without escaping. */
export interface SafeHtml {
  readonly __html: string;
}

const SAFE = new WeakSet<object>();

function safe(markup: string): SafeHtml {
  const out = Object.freeze({ __html: markup });
  SAFE.add(out);
  return out;
}

export function isSafeHtml(value: unknown): value is SafeHtml {
  return typeof value === 'object' && value !== null && SAFE.has(value);
}

type Part = string | number | SafeHtml | undefined | null | false | readonly Part[];

function render(part: Part): string {
  if (part === undefined || part === null || part === false) return '';
  if (Array.isArray(part)) return part.map(render).join('');
  if (isSafeHtml(part)) return part.__html;
  return escapeHtml(String(part));
}

/** `html\`<p>${text}</p>\``: every value is escaped; arrays are joined; empty values vanish. */
export function html(strings: TemplateStringsArray, ...values: readonly Part[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return safe(out);
}

/** Markup Gatehouse itself wrote (its stylesheet): never a value from a request or a user. */
export function trustedHtml(markup: string): SafeHtml {
  return safe(markup);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it drops
const CONTROL = /[\u0000-\u001f\u007f-\u009f]+/g;

/**
 * Text from elsewhere (an IdP's `error_description`, a claim) shortened for a page: control
 * characters dropped, whitespace collapsed, at most `max` characters (… when cut). Escaping is
 * still the renderer's job.
 */
export function plainText(value: string, max: number): string {
  const clean = value.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}
