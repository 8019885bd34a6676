/**
 * An error page: the reason's title, message and next steps from the one table
 * (`reason-pages.ts`), who is signed in when that matters (a 403), and the IdP's own words on an
 * `idp_error` – its `error_description`, shortened and escaped like any text.
 */
import type { ReasonCode } from '../errors.ts';
import { html, plainText } from './escape.ts';
import type { PageAction, PageModel, SignedInAs } from './page-template.ts';
import { type ActionKind, reasonPage } from './reason-pages.ts';

/** Longest IdP `error_description` a page repeats. */
export const MAX_IDP_MESSAGE = 300;

export interface ErrorPageContext {
  readonly requestId?: string;
  /** where "Sign in" leads: `{prefix}/start?…rd=<the page asked for>`; default `{prefix}/start` */
  readonly signIn?: string;
  /** the URL "Try again" reloads (the request's own path and query); default `/` */
  readonly retry?: string;
  /** who is signed in (shown on a 403) */
  readonly who?: SignedInAs;
  /** the IdP's `error_description` (on `idp_error`) */
  readonly idpMessage?: string;
  /** `wrong_host`: the same page on `public_url`, offered as the first action */
  readonly open?: string;
}

const LABELS: Record<ActionKind, string> = {
  sign_in: 'Sign in again',
  start_again: 'Start sign-in again',
  sign_out: 'Sign out',
  retry: 'Try again',
  home: 'Go to the home page',
};

export function errorModel(
  code: ReasonCode,
  status: number,
  prefix: string,
  ctx: ErrorPageContext,
): PageModel {
  const page = reasonPage(code);
  const href: Record<ActionKind, string> = {
    sign_in: ctx.signIn ?? `${prefix}/start`,
    start_again: `${prefix}/start`,
    sign_out: `${prefix}/sign_out`,
    retry: ctx.retry ?? '/',
    home: '/',
  };
  const actions: PageAction[] = page.actions.map((kind, i) => ({
    label: kind === 'sign_in' && code === 'no_credentials' ? 'Sign in' : LABELS[kind],
    href: href[kind],
    primary: i === 0 && ctx.open === undefined,
  }));
  if (ctx.open !== undefined) actions.unshift({ label: `Open ${ctx.open}`, href: ctx.open, primary: true });
  const idpMessage = ctx.idpMessage ? plainText(ctx.idpMessage, MAX_IDP_MESSAGE) : '';
  const details = idpMessage
    ? html`<p class="note">Your identity provider said: <q>${idpMessage}</q></p>`
    : undefined;
  return {
    title: page.title,
    message: page.message,
    status,
    reason: code,
    ...(ctx.requestId !== undefined ? { requestId: ctx.requestId } : {}),
    ...(ctx.who !== undefined && status === 403 ? { who: ctx.who } : {}),
    ...(details ? { details } : {}),
    actions,
  };
}
