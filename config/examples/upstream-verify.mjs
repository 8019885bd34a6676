// An upstream that trusts only what Gatehouse signed: it verifies X-Gatehouse-Assertion against
// Gatehouse's published keys and answers with the caller's identity, or 401.
//
//   npm install jose
//   GATEHOUSE_URL=https://app.example.com UPSTREAM_ORIGIN=http://127.0.0.1:9000 PORT=9000 \
//     node upstream-verify.mjs
//
// GATEHOUSE_URL   server.public_url of Gatehouse (the assertion's `iss`; keys at {url}/.gatehouse/jwks.json)
// UPSTREAM_ORIGIN the route's audience: its `audience`, or the upstream's origin by default
// JWKS_URL        optional: where to fetch the keys from, when Gatehouse is reached by another address
import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const issuer = process.env.GATEHOUSE_URL;
const audience = process.env.UPSTREAM_ORIGIN;
const jwks = createRemoteJWKSet(new URL(process.env.JWKS_URL ?? `${issuer}/.gatehouse/jwks.json`));

createServer(async (req, res) => {
  try {
    const token = req.headers['x-gatehouse-assertion'];
    if (typeof token !== 'string') throw new Error('no assertion');
    const { payload } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      typ: 'gatehouse-assertion+jwt',
      algorithms: ['ES256', 'EdDSA', 'RS256'],
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        sub: payload.sub,
        email: payload.email,
        roles: payload.roles,
        auth_type: payload.auth_type,
      }),
    );
  } catch {
    // Never trust X-Auth-Request-* alone when the upstream is reachable other than through Gatehouse.
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end('{"error":"unauthenticated"}');
  }
}).listen(Number(process.env.PORT ?? 9000), process.env.HOST ?? '127.0.0.1');
