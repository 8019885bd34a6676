/** `gatehouse keygen`: fresh secrets for `session.secrets` and `identity.assertion.key`. */
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

export async function runKeygen(): Promise<number> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  process.stdout.write(
    `# session.secrets entry (48 random bytes, base64url):\n${randomBytes(48).toString('base64url')}\n\n` +
      `# identity.assertion.key (ES256 private JWK; keep it secret, share it across replicas):\n` +
      `${JSON.stringify({ ...jwk, kid, alg: 'ES256', use: 'sig' })}\n`,
  );
  return 0;
}
