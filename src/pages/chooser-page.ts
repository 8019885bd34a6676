/**
 * The provider chooser at `{prefix}/start` when several providers are configured: one plain
 * link per provider, each carrying the already validated `rd`.
 */
import { html } from './escape.ts';
import type { PageModel } from './page-template.ts';

export interface ChooserEntry {
  readonly name: string;
  readonly label: string;
}

export function chooserModel(
  entries: readonly ChooserEntry[],
  startPath: string,
  rd: string,
  requestId?: string,
): PageModel {
  const items = entries.map((e) => {
    const href = `${startPath}?provider=${encodeURIComponent(e.name)}&rd=${encodeURIComponent(rd)}`;
    return html`<li><a class="button" href="${href}">${e.label}</a></li>`;
  });
  return {
    title: 'Sign in',
    message: 'Choose how to sign in:',
    details: html`<ul class="actions stack" aria-label="Identity providers">${items}</ul>`,
    actions: [],
    ...(requestId !== undefined ? { requestId } : {}),
  };
}
