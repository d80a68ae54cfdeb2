import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { assertAllowed, canonicalTimeZone, type Permission, SYSTEM_ACTOR } from './accounts.service.js';
import { senderTypeOf } from './senders.service.js';
import { checkCallbackUrl, checkIpRestrictions, isIpAllowed, isIpRestriction } from './sms-users.service.js';

describe('sender values', () => {
  it.each([
    ['OVH', 'alpha'],
    ['My Shop', 'alpha'],
    ['A.B-C 12345', 'alpha'],
    ['36180', 'shortcode'],
    ['1234', 'shortcode'],
    ['123456', 'shortcode'],
    ['123', 'numeric'],
    ['1234567', 'numeric'],
    ['+36180', 'numeric'],
    ['+33612345678', 'numeric'],
    ['0033612345678', 'numeric'],
    ['123456789012345', 'numeric'],
  ])('%s is %s', (value, type) => {
    expect(senderTypeOf(value)).toBe(type);
  });

  it.each(['', 'ABCDEFGHIJKL', '1234 5678', ' OVH', 'OVH ', 'Café', 'a_b', '+1234567890123456', '++33', '12.34'])('refuses %j', (value) => {
    expect(senderTypeOf(value)).toBeUndefined();
  });
});

describe('IP restrictions', () => {
  it('accepts addresses and CIDR ranges of both families, and refuses the rest', () => {
    for (const ok of ['192.0.2.1', '198.51.100.0/24', '0.0.0.0/0', '2001:db8::1', '2001:db8::/32', '::1/128'])
      expect(isIpRestriction(ok)).toBe(true);
    for (const bad of [
      '',
      'localhost',
      '192.0.2.256',
      '192.0.2.0/33',
      '2001:db8::/129',
      '10.0.0.0/8/1',
      '10.0.0.0/',
      '10.0.0.0/a',
      '1.2.3',
    ])
      expect(isIpRestriction(bad)).toBe(false);
  });

  it('trims and de-duplicates, and names the bad entry', () => {
    expect(checkIpRestrictions([' 192.0.2.1', '192.0.2.1 ', '10.0.0.0/8'])).toEqual(['192.0.2.1', '10.0.0.0/8']);
    expect(() => checkIpRestrictions(['192.0.2.1', 'nope'])).toThrow(/"nope"/);
  });

  it('matches addresses, ranges and IPv4-mapped IPv6; an empty list allows anyone', () => {
    const list = ['192.0.2.10', '198.51.100.0/24', '2001:db8::/32'];
    expect(isIpAllowed(list, '192.0.2.10')).toBe(true);
    expect(isIpAllowed(list, '192.0.2.11')).toBe(false);
    expect(isIpAllowed(list, '198.51.100.200')).toBe(true);
    expect(isIpAllowed(list, '::ffff:198.51.100.7')).toBe(true);
    expect(isIpAllowed(list, '2001:db8:1::5')).toBe(true);
    expect(isIpAllowed(list, '2001:db9::5')).toBe(false);
    expect(isIpAllowed(list, 'garbage')).toBe(false);
    expect(isIpAllowed([], '203.0.113.1')).toBe(true);
  });
});

describe('callback URLs and timezones', () => {
  it('accepts http and https URLs only', () => {
    expect(checkCallbackUrl('https://example.com/cb?x=1', false)).toBe('https://example.com/cb?x=1');
    expect(checkCallbackUrl('http://10.0.0.1:8080/', true)).toBe('http://10.0.0.1:8080/');
    for (const bad of ['ftp://example.com/', 'javascript:alert(1)', 'example.com', ''])
      expect(() => checkCallbackUrl(bad, true)).toThrow(AppError);
  });

  it('refuses loopback and private hosts unless the server allows them (SSRF)', () => {
    for (const url of [
      'http://127.0.0.1:5432/',
      'http://10.0.0.1:8080/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/',
      'http://localhost/cb',
    ]) {
      expect(() => checkCallbackUrl(url, false)).toThrow(/private address/);
      expect(checkCallbackUrl(url, true)).toBe(url);
    }
  });

  it('canonicalises IANA names and refuses the rest', () => {
    expect(canonicalTimeZone('europe/paris')).toBe('Europe/Paris');
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    for (const bad of ['Mars/Olympus', '+01:00', '']) expect(() => canonicalTimeZone(bad)).toThrow(/timezone/);
  });
});

describe('the access rule', () => {
  const all: Permission[] = [
    'account:read',
    'account:write',
    'users:read',
    'users:write',
    'senders:read',
    'senders:write',
    'tokens:read',
    'tokens:write',
  ];
  const allowed = (actor: Parameters<typeof assertAllowed>[0]) =>
    all.filter((p) => {
      try {
        assertAllowed(actor, p);
        return true;
      } catch (error) {
        expect((error as AppError).code).toBe('FORBIDDEN');
        return false;
      }
    });

  it('lets the owner and the operator do everything', () => {
    expect(allowed(SYSTEM_ACTOR)).toEqual(all);
    expect(allowed({ kind: 'customer', customerId: 1, email: 'a@b.c', csrfToken: 'x', sessionId: 'y' })).toEqual(all);
  });

  it('lets an account token manage users and senders, not settings nor tokens', () => {
    expect(allowed({ kind: 'token', tokenId: 1, accountId: 1, userId: null, userLogin: null, ipRestrictions: [] })).toEqual([
      'account:read',
      'users:read',
      'users:write',
      'senders:read',
      'senders:write',
    ]);
  });

  it('lets a user-scoped token only read', () => {
    expect(allowed({ kind: 'token', tokenId: 1, accountId: 1, userId: 4, userLogin: 'app', ipRestrictions: [] })).toEqual([
      'account:read',
      'users:read',
      'senders:read',
    ]);
  });
});
