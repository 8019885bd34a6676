import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clientAddress, createTrustedProxies } from '../../../src/http/trusted-proxies.ts';

describe('createTrustedProxies', () => {
  const trusted = createTrustedProxies(['10.0.0.0/8', '192.168.1.7', '::1/128', 'fd00::/8']);

  test('matches CIDRs, bare addresses, IPv6, and IPv4-mapped IPv6 peers', () => {
    for (const ip of ['10.1.2.3', '192.168.1.7', '::1', 'fd12::1', '::ffff:10.9.9.9'])
      assert.equal(trusted(ip), true, ip);
    for (const ip of ['11.0.0.1', '192.168.1.8', '::2', 'fe80::1', '::ffff:11.0.0.1'])
      assert.equal(trusted(ip), false, ip);
  });

  test('undefined and garbage are untrusted; an empty list trusts nobody', () => {
    assert.equal(trusted(undefined), false);
    assert.equal(trusted('not-an-ip'), false);
    assert.equal(trusted(''), false);
    assert.equal(createTrustedProxies([])('127.0.0.1'), false);
  });

  test('a unix socket peer (no address) is trusted only when "unix" is listed', () => {
    const withUnix = createTrustedProxies(['unix', '10.0.0.0/8']);
    assert.equal(withUnix(undefined), true);
    assert.equal(withUnix(''), true);
    assert.equal(withUnix('10.1.2.3'), true);
    assert.equal(withUnix('11.0.0.1'), false);
    assert.equal(withUnix('unix'), false, 'a peer cannot be named unix');
    assert.equal(createTrustedProxies(['unix'])('127.0.0.1'), false);
  });

  test('behind a trusted unix peer the client is the X-Forwarded-For hop nginx wrote', () => {
    const withUnix = createTrustedProxies(['unix']);
    assert.equal(clientAddress(undefined, '6.6.6.6, 203.0.113.9', withUnix), '203.0.113.9');
    assert.equal(clientAddress('', undefined, withUnix), '');
    assert.equal(
      clientAddress(undefined, '203.0.113.9', trusted),
      '',
      'untrusted: the peer, which has no address',
    );
  });

  test('malformed entries are refused at creation', () => {
    for (const bad of [
      '10.0.0.0/33',
      '10.0.0.0/',
      'example.com',
      'UNIX',
      'unix/8',
      '::1/129',
      '10.0.0.0/8x',
      '1.2.3.4/-1',
    ]) {
      assert.throws(
        () => createTrustedProxies([bad]),
        { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' },
        bad,
      );
    }
  });
});

describe('clientAddress', () => {
  const trusted = createTrustedProxies(['10.0.0.0/8']);

  test('an untrusted peer is the client, whatever X-Forwarded-For says', () => {
    assert.equal(clientAddress('203.0.113.9', '1.1.1.1', trusted), '203.0.113.9');
  });

  test('a trusted peer: walk right to left past trusted hops', () => {
    assert.equal(clientAddress('10.0.0.1', '6.6.6.6, 203.0.113.9, 10.0.0.2', trusted), '203.0.113.9');
    assert.equal(clientAddress('10.0.0.1', ['6.6.6.6', '203.0.113.9'], trusted), '203.0.113.9');
    assert.equal(clientAddress('10.0.0.1', undefined, trusted), '10.0.0.1');
    assert.equal(clientAddress('::ffff:10.0.0.1', '10.0.0.3', trusted), '10.0.0.3');
  });

  test('a malformed entry stops the walk at the hop that wrote it', () => {
    assert.equal(clientAddress('10.0.0.1', '1.1.1.1, garbage, 10.0.0.2', trusted), '10.0.0.2');
  });
});
