import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { oidcProviders } from '../../../src/config/providers.ts';
import { configSchema } from '../../../src/config/schema.ts';
import type { Log } from '../../../src/observe/logger.ts';
import { backoffDelay, createOidcClient } from '../../../src/oidc/oidc-client.ts';
import { createOutboundDispatcher } from '../../../src/util/outbound.ts';
import { waitFor } from '../../helpers/wait.ts';

function oidcConfig(issuer: string, extra: Record<string, unknown> = {}) {
  return oidcProviders(
    configSchema.parse({
      oidc: { issuer, client_id: 'gatehouse', client_secret: 's', ...extra },
      routes: [{ name: 'r', upstream: 'http://127.0.0.1:1', policy: 'public' }],
    }),
  )[0]!;
}

function recordingLog(lines: Array<{ msg: string; obj: Record<string, unknown> }>): Log {
  const log: Log = {
    error: (obj, msg) => void lines.push({ msg, obj: obj as Record<string, unknown> }),
    warn: (obj, msg) => void lines.push({ msg, obj: obj as Record<string, unknown> }),
    info: (obj, msg) => void lines.push({ msg, obj: obj as Record<string, unknown> }),
    debug: () => {},
    child: () => log,
  };
  return log;
}

/** A metadata server whose first `failures` answers are 503. */
async function metadataServer(
  opts: { failures?: number; issuer?: (self: string) => string; algs?: string[] } = {},
) {
  let calls = 0;
  const server = createServer((_req, res) => {
    calls++;
    if (calls <= (opts.failures ?? 0)) return void res.writeHead(503).end();
    const self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        issuer: opts.issuer ? opts.issuer(self) : self,
        authorization_endpoint: `${self}/auth`,
        token_endpoint: `${self}/token`,
        jwks_uri: `${self}/jwks`,
        id_token_signing_alg_values_supported: opts.algs ?? ['RS256', 'HS256', 'none'],
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls: () => calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('backoffDelay', () => {
  it('doubles, caps and jitters within [half, full]', () => {
    assert.equal(
      backoffDelay(1, 500, 30_000, () => 0),
      250,
    );
    assert.equal(
      backoffDelay(1, 500, 30_000, () => 1),
      500,
    );
    assert.equal(
      backoffDelay(3, 500, 30_000, () => 1),
      2000,
    );
    assert.equal(
      backoffDelay(20, 500, 30_000, () => 1),
      30_000,
    );
    assert.equal(
      backoffDelay(1000, 500, 30_000, () => 0),
      15_000,
    );
  });
});

describe('createOidcClient discovery', () => {
  it('retries until the IdP answers, then is ready with narrowed algorithms', async () => {
    const idp = await metadataServer({ failures: 2 });
    const dispatcher = createOutboundDispatcher({ timeoutMs: 2000 });
    const lines: Array<{ msg: string; obj: Record<string, unknown> }> = [];
    const client = createOidcClient({
      oidc: oidcConfig(idp.url),
      dispatcher,
      log: recordingLog(lines),
      retryBaseMs: 10,
    });
    try {
      assert.equal(client.ready, false);
      client.start();
      const as = await client.whenReady();
      assert.equal(client.ready, true);
      assert.equal(idp.calls(), 3);
      assert.deepEqual(as.id_token_signing_alg_values_supported, ['RS256']);
      assert.equal(lines.filter((l) => l.msg === 'oidc discovery failed').length, 2);
      assert.ok(lines.some((l) => l.msg === 'oidc discovery complete'));
    } finally {
      client.close();
      await idp.close();
      await dispatcher.close();
    }
  });

  it('reports its discovery state for the live view: pending, retrying with the reason, ok', async () => {
    const idp = await metadataServer({ failures: 2 });
    const dispatcher = createOutboundDispatcher({ timeoutMs: 2000 });
    const client = createOidcClient({
      oidc: oidcConfig(idp.url, { client_secret: 'status-test-secret-0123456789abcdef' }),
      dispatcher,
      log: recordingLog([]),
      retryBaseMs: 200,
    });
    try {
      assert.deepEqual(client.status(), {
        issuer: idp.url,
        discovery: 'pending',
        attempts: 0,
        keys: { loaded: false, keys: 0, failures: 0 },
      });
      client.start();
      await waitFor(() => client.status().discovery === 'retrying', {
        timeoutMs: 5000,
        what: 'a failed attempt',
      });
      const retrying = client.status();
      assert.ok(retrying.attempts >= 1);
      assert.match(retrying.last_error ?? '', /503|status/i);
      await client.whenReady();
      const ok = client.status();
      assert.equal(ok.discovery, 'ok');
      assert.equal(ok.attempts, 2);
      assert.equal(ok.last_error, undefined);
      assert.equal(typeof ok.discovered_at, 'number');
      assert.doesNotMatch(JSON.stringify(ok), /status-test-secret/);
    } finally {
      client.close();
      await idp.close();
      await dispatcher.close();
    }
  });

  it('never becomes ready when the metadata names another issuer', async () => {
    const idp = await metadataServer({ issuer: () => 'https://evil.example' });
    const dispatcher = createOutboundDispatcher({ timeoutMs: 2000 });
    const lines: Array<{ msg: string; obj: Record<string, unknown> }> = [];
    const client = createOidcClient({
      oidc: oidcConfig(idp.url),
      dispatcher,
      log: recordingLog(lines),
      retryBaseMs: 5,
    });
    try {
      client.start();
      for (let i = 0; i < 100 && idp.calls() < 3; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(idp.calls() >= 3, 'it keeps retrying');
      assert.equal(client.ready, false);
      const failure = lines.find((l) => l.msg === 'oidc discovery failed');
      assert.equal((failure?.obj.reason as { attribute?: string } | undefined)?.attribute, 'issuer');
    } finally {
      client.close();
      await idp.close();
      await dispatcher.close();
    }
  });

  it('refuses an IdP that signs with none of the configured algorithms', async () => {
    const idp = await metadataServer({ algs: ['HS256'] });
    const dispatcher = createOutboundDispatcher({ timeoutMs: 2000 });
    const lines: Array<{ msg: string; obj: Record<string, unknown> }> = [];
    const client = createOidcClient({
      oidc: oidcConfig(idp.url),
      dispatcher,
      log: recordingLog(lines),
      retryBaseMs: 5,
    });
    try {
      client.start();
      for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(client.ready, false);
      assert.match(
        String((lines[0]?.obj.reason as { message?: string } | undefined)?.message),
        /none of oidc\.id_token_algorithms/,
      );
    } finally {
      client.close();
      await idp.close();
      await dispatcher.close();
    }
  });

  it('checks client authentication options when built', () => {
    const dispatcher = createOutboundDispatcher();
    const noSecret = { ...oidcConfig('https://idp.example'), client_secret: undefined };
    assert.throws(() => createOidcClient({ oidc: noSecret, dispatcher, log: recordingLog([]) }), {
      code: 'ERR_INVALID_ARG_VALUE',
      message: /"oidc\.client_secret" is required/,
    });
    const badKey = oidcConfig('https://idp.example', {
      token_endpoint_auth_method: 'private_key_jwt',
      private_key: 'nope',
    });
    assert.throws(() => createOidcClient({ oidc: badKey, dispatcher, log: recordingLog([]) }), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
    const none = oidcConfig('https://idp.example', {
      token_endpoint_auth_method: 'none',
      client_secret: undefined,
    });
    assert.equal(createOidcClient({ oidc: none, dispatcher, log: recordingLog([]) }).ready, false);
    void dispatcher.close();
  });
});
