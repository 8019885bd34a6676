/**
 * A browser signed in with provider A opens a route that accepts only others (its `providers:`):
 * instead of silently sending it to sign in elsewhere, the page says so and offers the switch.
 * Signing in with another provider replaces the session cookie (one session per browser), so the
 * page says that too: the A-only pages will ask for A again.
 */
import { html } from './escape.ts';
import type { PageModel, SignedInAs } from './page-template.ts';

export interface ProviderSwitch {
  /** who is signed in, and via which provider */
  readonly who: SignedInAs;
  /** the providers the page accepts: name and display name */
  readonly accepted: readonly { readonly name: string; readonly label: string }[];
  /** the page asked for (already our own URL) */
  readonly rd: string;
  readonly requestId?: string;
}

export function providerSwitchModel(s: ProviderSwitch, prefix: string): PageModel {
  const names = s.accepted.map((a) => a.label);
  const wanted = names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
  return {
    title: 'This page needs another sign-in',
    message: `You are signed in${s.who.idp ? ` with ${s.who.idp}` : ''}, but this page accepts only sign-ins with ${wanted}.`,
    who: s.who,
    details: html`<p>Signing in with ${wanted} <strong>replaces your current session</strong> in this browser: pages that need ${s.who.idp ?? 'your current provider'} will then ask you to sign in with it again.</p>`,
    actions: [
      ...s.accepted.map((a, i) => ({
        label: `Sign in with ${a.label}`,
        href: `${prefix}/start?provider=${encodeURIComponent(a.name)}&rd=${encodeURIComponent(s.rd)}`,
        primary: i === 0,
      })),
      { label: 'Keep my session and go back', href: '/' },
    ],
    ...(s.requestId !== undefined ? { requestId: s.requestId } : {}),
  };
}
