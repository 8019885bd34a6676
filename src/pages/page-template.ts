/**
 * The one layout every page Gatehouse renders goes through: header (logo, app name), a card with
 * the title, the plain-words message, who is signed in, the page's own details and the next-step
 * links, and a footer with the reason code, request id and support link. Server-rendered, every
 * value escaped ({@link html}), no script, no external asset: the stylesheet is inline and the
 * Content-Security-Policy admits exactly it, by hash, and nothing else but the logo.
 * @see https://www.w3.org/TR/CSP3/#grammardef-hash-source
 */
import { createHash } from 'node:crypto';
import { html, type SafeHtml, trustedHtml } from './escape.ts';
import type { BlockSlot, LayoutTemplate, TextSlot } from './layout-template.ts';
import { BASE_CSS } from './page-styles.ts';

/** A next step: a real link (GET), so it works without script and with every assistive tool. */
export interface PageAction {
  readonly label: string;
  readonly href: string;
  readonly primary?: boolean;
}

/** Who the page is talking to: shown on a 403 and on the provider switch. */
export interface SignedInAs {
  /** display name, else email, else username, else sub */
  readonly name: string;
  /** the email or username beside the name, when it differs */
  readonly detail?: string;
  /** the provider's display name */
  readonly idp?: string;
}

export interface PageModel {
  readonly title: string;
  readonly message: string;
  readonly status?: number;
  readonly reason?: string;
  readonly requestId?: string;
  readonly who?: SignedInAs;
  /** the page's own content, built with `html` */
  readonly details?: SafeHtml;
  readonly actions: readonly PageAction[];
}

/** `ui:` from the config, with `custom_css` and `templates_dir` already read (ui-assets.ts). */
export interface UiSettings {
  readonly appName?: string;
  readonly logoUrl?: string;
  readonly supportUrl?: string;
  readonly customCss?: string;
  readonly layout?: LayoutTemplate;
}

export interface PageRenderer {
  render(model: PageModel): string;
  /** content type, CSP and the other headers every page goes with */
  readonly headers: Readonly<Record<string, string>>;
  readonly appName: string;
}

export const DEFAULT_APP_NAME = 'Gatehouse';

export function createPageRenderer(ui: UiSettings = {}): PageRenderer {
  const appName = ui.appName ?? DEFAULT_APP_NAME;
  // A stylesheet cannot end its own element early; the hash is over exactly what is sent.
  const css = (ui.customCss ? `${BASE_CSS}\n${ui.customCss}` : BASE_CSS).replace(/<\/style/gi, '<\\/style');
  const styleHash = createHash('sha256').update(css).digest('base64');
  const style = trustedHtml(`<style>${css}</style>`);
  const headers = Object.freeze({
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': contentSecurityPolicy(styleHash, ui.logoUrl),
  });
  const render = (model: PageModel): string => {
    const blocks: Record<BlockSlot, SafeHtml> = {
      style,
      who: whoBlock(model.who),
      details: model.details ?? html``,
      actions: actionsBlock(model.actions),
    };
    if (ui.layout) return renderCustom(ui.layout, blocks, textValues(model, ui, appName));
    return defaultLayout(model, ui, appName, blocks).__html;
  };
  return { render, headers, appName };
}

/**
 * `style-src` by hash (the one inline stylesheet; a custom_css is part of it, so its hash changes
 * with the file), images only inline or from the logo's origin, forms only to us, never framed.
 */
export function contentSecurityPolicy(styleHash: string, logoUrl: string | undefined): string {
  let img = 'data:';
  if (logoUrl !== undefined) img += logoUrl.startsWith('/') ? " 'self'" : ` ${new URL(logoUrl).origin}`;
  return [
    "default-src 'none'",
    `style-src 'sha256-${styleHash}'`,
    `img-src ${img}`,
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

function whoBlock(who: SignedInAs | undefined): SafeHtml {
  if (!who) return html``;
  const detail = who.detail ? html` <span class="muted">(${who.detail})</span>` : '';
  const via = who.idp ? html` via <strong>${who.idp}</strong>` : '';
  return html`<p class="who">Signed in as <strong>${who.name}</strong>${detail}${via}.</p>`;
}

function actionsBlock(actions: readonly PageAction[]): SafeHtml {
  if (actions.length === 0) return html``;
  const links = actions.map(
    (a) => html`<a class="${a.primary ? 'button primary' : 'button'}" href="${a.href}">${a.label}</a>`,
  );
  return html`<nav class="actions" aria-label="What you can do">${links}</nav>`;
}

function footerBlock(model: PageModel, supportUrl: string | undefined): SafeHtml {
  const code =
    model.reason !== undefined
      ? html`<p>${model.status !== undefined ? html`Error ${model.status} &middot; ` : ''}Reason: <code>${model.reason}</code></p>`
      : '';
  const id = model.requestId ? html`<p>Request ID: <code>${model.requestId}</code></p>` : '';
  const help = supportUrl
    ? html`<p>Need help? <a href="${supportUrl}">Contact support</a>${model.requestId ? ' and quote the request ID' : ''}.</p>`
    : '';
  return html`${code}${id}${help}`;
}

function defaultLayout(
  model: PageModel,
  ui: UiSettings,
  appName: string,
  b: Record<BlockSlot, SafeHtml>,
): SafeHtml {
  const logo = ui.logoUrl ? html`<img src="${ui.logoUrl}" alt="">` : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><meta name="robots" content="noindex"><title>${model.title} &middot; ${appName}</title>${b.style}</head>
<body><a class="skip" href="#main">Skip to content</a><header class="top">${logo}<span class="app">${appName}</span></header>
<main id="main"><div class="card"><h1>${model.title}</h1><p class="lead">${model.message}</p>${b.who}${b.details}${b.actions}</div></main>
<footer>${footerBlock(model, ui.supportUrl)}</footer></body></html>
`;
}

function textValues(model: PageModel, ui: UiSettings, appName: string): Record<TextSlot, string> {
  return {
    app_name: appName,
    title: model.title,
    message: model.message,
    status: model.status === undefined ? '' : String(model.status),
    reason: model.reason ?? '',
    request_id: model.requestId ?? '',
    support_url: ui.supportUrl ?? '',
    logo_url: ui.logoUrl ?? '',
  };
}

function renderCustom(
  layout: LayoutTemplate,
  blocks: Record<BlockSlot, SafeHtml>,
  text: Record<TextSlot, string>,
): string {
  let out = '';
  for (const s of layout.segments) {
    if (s.kind === 'literal') out += s.text;
    else if (s.kind === 'block') out += blocks[s.name].__html;
    else out += html`${text[s.name]}`.__html;
  }
  return out;
}
