/**
 * The one way an error reaches a client: a status from the `REASONS` registry and the client-safe
 * detail text, as an error page for browsers (`src/pages/`: what happened in plain words and what
 * to do next) or JSON for everything else. Nothing from an exception (message, stack, cause) is
 * ever rendered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { REASONS, type ReasonCode } from '../errors.ts';
import type { ErrorPageContext } from '../pages/error-page.ts';
import { DEFAULT_PAGES, type Pages } from '../pages/pages.ts';

export { escapeHtml } from '../pages/escape.ts';

/** Request ids are echoed into a header only when they are a plain token. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * The q-value the `Accept` header gives `type/subtype`, taken from its most specific matching
 * range (`type/subtype` over `type/*` over `*\/*`); 0 when none matches.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-12.5.1
 */
export function acceptQuality(accept: string, mediaType: string): number {
  const slash = mediaType.indexOf('/');
  const typeWildcard = `${mediaType.slice(0, slash)}/*`;
  let best = -1;
  let quality = 0;
  // The header is bounded by node's header size limit; each step consumes one range.
  for (const range of accept.split(',')) {
    const [rawName, ...params] = range.split(';');
    const name = rawName!.trim().toLowerCase();
    const specificity = name === mediaType ? 2 : name === typeWildcard ? 1 : name === '*/*' ? 0 : -1;
    if (specificity <= best) continue;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split('=');
      if (key?.trim().toLowerCase() === 'q') {
        const parsed = Number(value?.trim());
        q = Number.isFinite(parsed) && parsed >= 0 && parsed <= 1 ? parsed : 0;
      }
    }
    best = specificity;
    quality = q;
  }
  return quality;
}

/** True when the client ranks HTML strictly above JSON (browsers do; `*\/*` and APIs do not). */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = acceptQuality(accept, 'text/html');
  return html > 0 && html > acceptQuality(accept, 'application/json');
}

/** What an error page may say beyond the reason: the config's pages, who, where to sign in. */
export interface PageOptions extends Omit<ErrorPageContext, 'requestId'> {
  readonly pages?: Pages;
}

/**
 * Answers `req` with the error `code`. When the response has already started there is no way to
 * signal an error inside it, so the connection is destroyed: a truncated body must never look
 * like a complete one.
 */
export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  code: ReasonCode,
  opts: {
    requestId?: string;
    headers?: Record<string, string | string[]>;
    /** overrides `REASONS[code].status` (nginx auth_request understands only 2xx/401/403) */
    status?: number;
    /** the HTML page's settings and context (JSON bodies never change) */
    page?: PageOptions;
    /** a script's sign-in answer: always JSON, with this as `sign_in_url` */
    signInUrl?: string;
  } = {},
): void {
  if (res.headersSent || res.writableEnded) {
    if (!res.writableFinished) res.destroy();
    return;
  }
  if (res.destroyed) return;
  const status = opts.status ?? REASONS[code].status;
  const { body, headers } = errorBody(
    req.headers.accept,
    status,
    code,
    opts.requestId,
    opts.page,
    opts.signInUrl,
  );
  try {
    // Headers an upstream or an earlier stage set on `res` do not belong to this answer.
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    for (const [name, value] of Object.entries(opts.headers ?? {})) res.setHeader(name, value);
    if (opts.requestId && SAFE_REQUEST_ID.test(opts.requestId)) res.setHeader('X-Request-Id', opts.requestId);
  } catch {
    // An invalid extra header (a caller bug) must not turn an error answer into a crash.
  }
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}

export interface ErrorBody {
  readonly html: boolean;
  readonly body: string;
  /** content type and the headers every error body goes with */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The body of an error answer, HTML for a client that ranks it above JSON: for answers written
 * on a response here, and for those an edge proxy writes for us (Envoy's gRPC ext_authz).
 */
export function errorBody(
  accept: string | undefined,
  status: number,
  code: ReasonCode,
  requestId: string | undefined,
  page: PageOptions = {},
  signInUrl?: string,
): ErrorBody {
  const open = page.open === undefined ? {} : { open: page.open };
  if (signInUrl !== undefined) {
    const fields = {
      error: code,
      message: REASONS[code].detail,
      sign_in_url: signInUrl,
      request_id: requestId,
    };
    return { html: false, body: `${JSON.stringify(fields)}\n`, headers: JSON_HEADERS };
  }
  if (prefersHtml(accept)) {
    const { pages = DEFAULT_PAGES, ...ctx } = page;
    const body = pages.error(code, status, requestId === undefined ? ctx : { ...ctx, requestId });
    return { html: true, body, headers: pages.headers };
  }
  const body = `${JSON.stringify({ error: code, message: REASONS[code].detail, request_id: requestId, ...open })}\n`;
  return { html: false, body, headers: JSON_HEADERS };
}
const JSON_HEADERS = Object.freeze({
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
});
