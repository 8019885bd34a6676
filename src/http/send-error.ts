/**
 * The one way an error reaches a client: a status from the `REASONS` registry and the client-safe
 * detail text, as a small escaped HTML page for browsers or JSON for everything else. Nothing
 * from an exception (message, stack, cause) is ever rendered.
 */
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import { REASONS, type ReasonCode } from '../errors.ts';

/** Request ids are echoed into a header only when they are a plain token. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

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

function htmlPage(status: number, code: ReasonCode, requestId: string | undefined): string {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  const id = requestId ? `<p><small>Request ID: <code>${escapeHtml(requestId)}</code></small></p>` : '';
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    `<meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title></head>` +
    `<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(REASONS[code].detail)}</p>` +
    `<p><small>Reason: <code>${escapeHtml(code)}</code></small></p>${id}</body></html>\n`
  );
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
  const { body, headers } = errorBody(req.headers.accept, status, code, opts.requestId, opts.signInUrl);
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
  signInUrl?: string,
): ErrorBody {
  if (signInUrl !== undefined) {
    const fields = {
      error: code,
      message: REASONS[code].detail,
      sign_in_url: signInUrl,
      request_id: requestId,
    };
    return { html: false, body: `${JSON.stringify(fields)}\n`, headers: JSON_HEADERS };
  }
  if (prefersHtml(accept))
    return { html: true, body: htmlPage(status, code, requestId), headers: HTML_HEADERS };
  const body = `${JSON.stringify({ error: code, message: REASONS[code].detail, request_id: requestId })}\n`;
  return { html: false, body, headers: JSON_HEADERS };
}
const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
const HTML_HEADERS = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  ...COMMON_HEADERS,
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
});
const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json; charset=utf-8', ...COMMON_HEADERS });
