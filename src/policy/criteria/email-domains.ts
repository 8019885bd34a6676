/**
 * `email_domains: [...]` – the domain after the last `@` of the identity's trusted email
 * equals a listed domain exactly, ignoring case. Never a suffix test: `example.com` matches
 * neither `evil-example.com` nor `a.example.com`.
 */
import { isDomainName } from '../identity-from-claims.ts';
import { type Criterion, invalidValue } from './criterion.ts';

export function compileEmailDomains(domains: readonly string[]): Criterion {
  for (const domain of domains) {
    // `@example.com` or `*.example.com` would never equal a domain: refuse rather than never match.
    if (!isDomainName(domain)) {
      throw invalidValue(
        'email_domains',
        `"${domain}" is not a domain name such as example.com (no @, no *)`,
      );
    }
  }
  const accepted: ReadonlySet<string> = new Set(domains.map((d) => d.toLowerCase()));
  return (identity) => {
    const email = identity.email;
    if (email === undefined) return false;
    return accepted.has(email.slice(email.lastIndexOf('@') + 1).toLowerCase());
  };
}
