/**
 * `{prefix}/userinfo` for a browser: the caller's identity as Gatehouse sees it, as a readable
 * table – the first thing to look at when someone asks "why am I denied": their groups and
 * mapped roles. API clients get the same fields as JSON.
 */
import type { Identity } from '../identity/identity.ts';
import { html } from './escape.ts';
import type { PageModel, SignedInAs } from './page-template.ts';

const list = (values: readonly string[]) =>
  values.length === 0 ? html`<span class="muted">none</span>` : values.join(', ');

export function userinfoModel(id: Identity, who: SignedInAs, prefix: string, requestId?: string): PageModel {
  const rows: [string, string | ReturnType<typeof html> | undefined][] = [
    ['Subject (sub)', id.sub],
    ['Name', id.name],
    ['Email', id.email],
    ['Username', id.preferredUsername],
    ['Provider', who.idp],
    ['Issuer', id.iss],
    ['Signed in with', id.authType === 'session' ? 'browser session' : 'bearer token'],
    ['Client', id.clientId],
    ['Groups', list(id.groups)],
    ['Roles', list(id.roles)],
    [
      'Session ends',
      new Date(id.expiresAt * 1000)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC'),
    ],
  ];
  const shown = rows.filter(([, v]) => v !== undefined);
  const overage = id.groupsOverage
    ? html`<p class="note">Your identity provider left your groups out of the sign-in (too many groups): the list above is incomplete.</p>`
    : '';
  return {
    title: 'Your identity',
    message: 'This is who Gatehouse sees you as, and the groups and roles the policies check.',
    who,
    details: html`<dl>${shown.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>${overage}`,
    actions: [
      { label: 'Go to the home page', href: '/', primary: true },
      { label: 'Sign out', href: `${prefix}/sign_out` },
    ],
    ...(requestId !== undefined ? { requestId } : {}),
  };
}
