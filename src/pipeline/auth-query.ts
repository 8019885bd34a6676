/**
 * oauth2-proxy's per-location restrictions on its auth endpoint – `/oauth2/auth?allowed_groups=
 * admins,ops` (also `allowed_emails`, `allowed_email_domains`), reached from nginx through an
 * internal location whose `proxy_pass` names that URL – honoured by `{prefix}/auth` so such a config keeps restricting what
 * it restricted: ignoring them would let every user of the route through. They narrow the route's
 * policy, never widen it: each parameter present must match (any listed value), on top of an
 * allow. A request without an identity (a public route) cannot match one, and is denied.
 * @see https://oauth2-proxy.github.io/oauth2-proxy/configuration/integration
 */
import type { Identity } from '../identity/identity.ts';

/** undefined when no restriction is present, else whether `identity` meets every one. */
export function meetsAuthQuery(search: string, identity: Identity | undefined): boolean | undefined {
  const q = new URLSearchParams(search);
  const list = (name: string) =>
    q.has(name)
      ? q
          .getAll(name)
          .flatMap((v) => v.split(','))
          .map((v) => v.trim())
          .filter(Boolean)
      : undefined;
  const groups = list('allowed_groups');
  const emails = list('allowed_emails');
  const domains = list('allowed_email_domains');
  if (!groups && !emails && !domains) return undefined;
  if (!identity) return false;
  const email = identity.email?.toLowerCase();
  if (groups && !groups.some((g) => identity.groups.includes(g))) return false;
  if (emails && !(email && emails.some((e) => e.toLowerCase() === email))) return false;
  if (domains && !(email && domains.some((d) => email.endsWith(`@${d.toLowerCase().replace(/^@/, '')}`))))
    return false;
  return true;
}
