/**
 * `clients: [...]` – the OAuth client a machine token was issued to (`client_id`, RFC 9068, or
 * `azp`, as OpenID Connect and Entra ID name it) is one listed; exact and case-sensitive. An
 * identity without a client id (most sessions, Kubernetes and GitHub Actions tokens) matches none.
 */
import type { Criterion } from './criterion.ts';

export function compileClients(clients: readonly string[]): Criterion {
  const accepted: ReadonlySet<string> = new Set(clients);
  return (identity) => identity.clientId !== undefined && accepted.has(identity.clientId);
}
