import type { AuthType } from '../config/schema.ts';

/**
 * Who is calling, whatever the credential: sessions and bearer tokens both produce this
 * shape, so policies, headers and assertions treat them alike. Frozen once built.
 */
export interface Identity {
  /** issuer of the credential (the IdP) */
  readonly iss: string;
  /** the provider it came from (`oidc[].name`, or a named `bearer` issuer) */
  readonly idp?: string;
  readonly sub: string;
  /** only a single well-formed address; anything else is not trusted as an email */
  readonly email?: string;
  readonly preferredUsername?: string;
  readonly name?: string;
  /** raw group/role names read from the provider's claim paths */
  readonly groups: readonly string[];
  /** the IdP left the groups out of the token (Entra ID groups overage): `groups` is incomplete */
  readonly groupsOverage?: boolean;
  /** Gatehouse roles after `roles.map` */
  readonly roles: readonly string[];
  /** all claims, for `claims:` rules (never logged) */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly authType: AuthType;
  /** OAuth client id of a machine token (`client_id` or `azp`) */
  readonly clientId?: string;
  /** the token is sender-constrained and its key was proven on this request (RFC 9449 / RFC 8705) */
  readonly binding?: 'dpop' | 'mtls';
  /** epoch seconds after which this identity must not be used */
  readonly expiresAt: number;
  /** session id from the IdP (`sid`), for back-channel logout */
  readonly sid?: string;
}
