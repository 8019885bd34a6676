/**
 * `emails: [...]` – the identity's (verified, well-formed) email equals a listed address,
 * ignoring case. An identity without a trusted email matches nothing.
 */
import { isWellFormedEmail } from '../identity-from-claims.ts';
import { type Criterion, invalidValue } from './criterion.ts';

export function compileEmails(emails: readonly string[]): Criterion {
  for (const email of emails) {
    // An address the identity builder would never produce could never match: refuse it.
    if (!isWellFormedEmail(email)) throw invalidValue('emails', `"${email}" is not a plain email address`);
  }
  const accepted: ReadonlySet<string> = new Set(emails.map((e) => e.toLowerCase()));
  return (identity) => identity.email !== undefined && accepted.has(identity.email.toLowerCase());
}
