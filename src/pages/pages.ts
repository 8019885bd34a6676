/**
 * Every page Gatehouse renders, built once per config from the `ui:` settings and the provider
 * labels: error pages (one per reason code, `reason-pages.ts`), the provider chooser, signed
 * out, session expired, provider switch and `/userinfo`. Each page module turns what it is
 * told into a {@link PageModel}; the one template renders it.
 */
import type { ReasonCode } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import { type ChooserEntry, chooserModel } from './chooser-page.ts';
import { type ErrorPageContext, errorModel } from './error-page.ts';
import { createPageRenderer, type PageRenderer, type SignedInAs, type UiSettings } from './page-template.ts';
import { type ProviderSwitch, providerSwitchModel } from './provider-switch-page.ts';
import { signedOutModel } from './signed-out-page.ts';
import { userinfoModel } from './userinfo-page.ts';

export interface Pages {
  readonly headers: PageRenderer['headers'];
  readonly prefix: string;
  error(code: ReasonCode, status: number, ctx?: ErrorPageContext): string;
  chooser(entries: readonly ChooserEntry[], rd: string, requestId?: string): string;
  signedOut(requestId?: string): string;
  /** `{prefix}/sign_in`'s body (shown when nginx forces the status): a link to `location` */
  signIn(location: string, requestId?: string): string;
  providerSwitch(s: ProviderSwitch): string;
  userinfo(id: Identity, requestId?: string): string;
  /** how a page names the person behind `id` */
  who(id: Identity): SignedInAs;
  /** a provider's display name */
  idpLabel(name: string): string;
}

export interface PagesOptions {
  /** `server.endpoints_prefix` (default `/.gatehouse`) */
  readonly prefix?: string;
  readonly ui?: UiSettings;
  /** provider name → display name (`oidc[].display_name`) */
  readonly idpLabels?: ReadonlyMap<string, string>;
}

export function createPages(opts: PagesOptions = {}): Pages {
  const renderer = createPageRenderer(opts.ui);
  const prefix = opts.prefix ?? '/.gatehouse';
  const label = (name: string | undefined) =>
    name === undefined ? undefined : (opts.idpLabels?.get(name) ?? name);
  const who = (id: Identity): SignedInAs => {
    const name = id.name ?? id.email ?? id.preferredUsername ?? id.sub;
    const detail = [id.email, id.preferredUsername, id.sub].find((v) => v !== undefined && v !== name);
    const idp = label(id.idp);
    return { name, ...(detail !== undefined ? { detail } : {}), ...(idp !== undefined ? { idp } : {}) };
  };
  return {
    headers: renderer.headers,
    prefix,
    error: (code, status, ctx = {}) => renderer.render(errorModel(code, status, prefix, ctx)),
    chooser: (entries, rd, requestId) =>
      renderer.render(chooserModel(entries, `${prefix}/start`, rd, requestId)),
    signedOut: (requestId) => renderer.render(signedOutModel(prefix, requestId)),
    signIn: (location, requestId) =>
      renderer.render({
        title: 'Sign in to continue',
        message: 'This page is only for signed-in users.',
        actions: [{ label: 'Sign in', href: location, primary: true }],
        ...(requestId !== undefined ? { requestId } : {}),
      }),
    providerSwitch: (s) => renderer.render(providerSwitchModel(s, prefix)),
    userinfo: (id, requestId) => renderer.render(userinfoModel(id, who(id), prefix, requestId)),
    who,
    idpLabel: (name) => label(name)!,
  };
}

/** Pages without any `ui:` settings: for answers written where no config is at hand. */
export const DEFAULT_PAGES: Pages = createPages();
