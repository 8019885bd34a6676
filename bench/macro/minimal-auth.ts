/**
 * The reference auth_request endpoint: what any Node service behind nginx's `auth_request` costs
 * at the least. A token is verified once with jose against the bench JWKS, then answered from a
 * SHA-256-keyed map: 200 with a user header, 401 otherwise. No routing, no policy, no assertion,
 * no audit line, no metrics. nginx + this over nginx alone is the ceiling a Node auth_request
 * target can reach on this machine; Gatehouse's `{prefix}/auth` is measured against it.
 * `PORT=… JWKS=http://…/jwks ISSUER=… AUDIENCE=… node bench/macro/minimal-auth.ts`
 */
import { hash } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const jwks = createRemoteJWKSet(new URL(String(process.env.JWKS)));
const options = { issuer: String(process.env.ISSUER), audience: String(process.env.AUDIENCE) };
const verified = new Map<string, string>();

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const auth = req.headers.authorization;
  const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
  if (token === undefined) return answer(res, 401);
  const key = hash('sha256', token, 'base64url');
  const user = verified.get(key);
  if (user !== undefined) return answer(res, 200, user);
  jwtVerify(token, jwks, options).then(
    ({ payload }) => {
      verified.set(key, String(payload.sub));
      answer(res, 200, String(payload.sub));
    },
    () => answer(res, 401),
  );
});

function answer(res: ServerResponse, status: number, user?: string): void {
  res.writeHead(
    status,
    user === undefined ? { 'content-length': '0' } : { 'content-length': '0', 'x-auth-request-user': user },
  );
  res.end();
}

server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
