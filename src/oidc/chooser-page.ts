/**
 * The provider chooser at `{prefix}/start` when several providers are configured: one plain
 * link per provider. Server-rendered, no script, no external asset, readable by a screen
 * reader and usable without CSS; every text is escaped and every link carries the already
 * validated `rd`. Framing is refused (a chooser inside another site's frame is a clickjacking
 * lure).
 */
import type { ServerResponse } from 'node:http';
import { escapeHtml } from '../http/send-error.ts';

export interface ChooserEntry {
  name: string;
  label: string;
}

export function chooserHtml(entries: readonly ChooserEntry[], startPath: string, rd: string): string {
  const items = entries
    .map((e) => {
      const href = `${startPath}?provider=${encodeURIComponent(e.name)}&rd=${encodeURIComponent(rd)}`;
      return `<li><a href="${escapeHtml(href)}">${escapeHtml(e.label)}</a></li>`;
    })
    .join('');
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width"><title>Sign in</title>' +
    '<style>body{font:1rem/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}' +
    'ul{list-style:none;padding:0}li{margin:.5rem 0}a{display:block;padding:.75rem 1rem;border:1px solid #555;' +
    'border-radius:.375rem;color:inherit;text-decoration:none}a:hover,a:focus{background:#eee;outline:2px solid #005fcc}' +
    '</style></head><body><main><h1>Sign in</h1><p id="how">Choose how to sign in:</p>' +
    `<ul aria-labelledby="how">${items}</ul></main></body></html>\n`
  );
}

export function sendChooser(res: ServerResponse, html: string, head: boolean): void {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    'referrer-policy': 'no-referrer',
  });
  res.end(head ? undefined : html);
}
