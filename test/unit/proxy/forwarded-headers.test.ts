import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildUpstreamHeaders, type ForwardedInfo } from '../../../src/proxy/forwarded-headers.ts';
import { connectionTokens, isHopByHop } from '../../../src/proxy/hop-by-hop.ts';

const info = (over: Partial<ForwardedInfo> = {}): ForwardedInfo => ({
  clientIp: '203.0.113.9',
  peerIp: '203.0.113.9',
  trustedPeer: false,
  proto: 'https',
  host: 'app.example.com',
  requestId: 'req-1',
  websocket: false,
  ...over,
});

describe('buildUpstreamHeaders', () => {
  test('a unix-socket peer adds no hop, and without a client address no chain is sent', () => {
    const trusted = buildUpstreamHeaders(
      { 'x-forwarded-for': '198.51.100.7' },
      info({ clientIp: '198.51.100.7', peerIp: '', trustedPeer: true }),
      {},
    );
    assert.equal(trusted['x-forwarded-for'], '198.51.100.7');
    assert.equal(trusted['x-real-ip'], '198.51.100.7');
    const untrusted = buildUpstreamHeaders(
      { 'x-forwarded-for': '6.6.6.6' },
      info({ clientIp: '', peerIp: '', trustedPeer: false }),
      {},
    );
    assert.equal(untrusted['x-forwarded-for'], undefined);
    assert.equal(untrusted['x-real-ip'], undefined);
  });

  test('drops hop-by-hop headers and the ones Connection lists, but never framing', () => {
    const out = buildUpstreamHeaders(
      {
        connection: 'keep-alive, X-Secret, content-length, Host',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic eA==',
        'proxy-connection': 'keep-alive',
        te: 'trailers',
        trailer: 'x',
        upgrade: 'h2c',
        'x-secret': 'drop me',
        'content-length': '5',
        'transfer-encoding': 'chunked',
        accept: 'text/plain',
      },
      info(),
      {},
    );
    for (const name of [
      'connection',
      'keep-alive',
      'proxy-authorization',
      'proxy-connection',
      'te',
      'trailer',
      'upgrade',
      'x-secret',
    ]) {
      assert.equal(out[name], undefined, name);
    }
    assert.equal(out['content-length'], '5');
    assert.equal(out['transfer-encoding'], 'chunked');
    assert.equal(out.accept, 'text/plain');
    assert.equal(out.host, 'app.example.com');
  });

  test('an untrusted peer: forwarded headers and spoofable overrides are replaced or dropped, `_` spellings too', () => {
    const out = buildUpstreamHeaders(
      {
        'x-forwarded-for': '1.1.1.1',
        x_forwarded_for: '2.2.2.2',
        'x-real-ip': '3.3.3.3',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'evil.example',
        'x-request-id': 'forged',
        forwarded: 'for=4.4.4.4',
        'x-original-url': '/admin',
        'x-rewrite-url': '/admin',
        'x-http-method-override': 'DELETE',
        x_http_method_override: 'DELETE',
        expect: '100-continue',
      },
      info(),
      {},
    );
    assert.deepEqual(out, {
      'x-forwarded-for': '203.0.113.9',
      'x-real-ip': '203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'app.example.com',
      'x-request-id': 'req-1',
      host: 'app.example.com',
    });
  });

  test('a trusted peer: its chain is kept and the peer appended', () => {
    const out = buildUpstreamHeaders(
      { 'x-forwarded-for': '198.51.100.1, 10.0.0.5' },
      info({ trustedPeer: true, peerIp: '10.0.0.6', clientIp: '198.51.100.1' }),
      {},
    );
    assert.equal(out['x-forwarded-for'], '198.51.100.1, 10.0.0.5, 10.0.0.6');
    assert.equal(out['x-real-ip'], '198.51.100.1');
  });

  test('websocket handshakes keep Upgrade and say Connection: upgrade; identity headers are applied last', () => {
    const out = buildUpstreamHeaders(
      { connection: 'Upgrade, X-Drop', upgrade: 'websocket', 'x-drop': '1', 'sec-websocket-key': 'k' },
      info({ websocket: true }),
      { 'X-Auth-Request-User': 'alice', 'x-forwarded-host': 'set-by-caller' },
    );
    assert.equal(out.upgrade, 'websocket');
    assert.equal(out.connection, 'upgrade');
    assert.equal(out['x-drop'], undefined);
    assert.equal(out['sec-websocket-key'], 'k');
    assert.equal(out['x-auth-request-user'], 'alice');
    assert.equal(out['x-forwarded-host'], 'set-by-caller');
  });
});

describe('hop-by-hop', () => {
  test('connectionTokens lower-cases, splits repeats, and protects framing', () => {
    assert.deepEqual([...connectionTokens(['close, X-A', ' x-b ,,Content-Length'])], ['close', 'x-a', 'x-b']);
    assert.equal(connectionTokens(undefined).size, 0);
  });

  test('isHopByHop picks the connection-scoped response headers (those the proxy never copies)', () => {
    const headers = {
      connection: 'close, x-internal',
      'keep-alive': 'timeout=5',
      'x-internal': 'secret',
      'transfer-encoding': 'chunked',
      'proxy-authenticate': 'Basic',
      upgrade: 'h2c',
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
    };
    const listed = connectionTokens(headers.connection);
    const copied = Object.keys(headers).filter((name) => !isHopByHop(name, listed));
    assert.deepEqual(copied, ['content-type', 'set-cookie']);
  });
});
