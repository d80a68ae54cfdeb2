import { describe, expect, it } from 'vitest';
import { clientOf, ipv6Groups, mappedIpv4 } from './ip-address.js';

describe('clientOf', () => {
  it('is the IPv4 address (also IPv4-mapped, however written) or the /64 of an IPv6 one, however it is written', () => {
    expect(clientOf('192.0.2.7')).toBe('192.0.2.7');
    for (const mapped of [
      '::ffff:192.0.2.7',
      '::FFFF:192.0.2.7',
      '0:0:0:0:0:ffff:192.0.2.7',
      '::ffff:c000:207',
      '0:0:0:0:0:FFFF:C000:0207',
    ]) {
      expect(clientOf(mapped), mapped).toBe('192.0.2.7');
    }
    expect(clientOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:0DB8:0001:0002::9')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientOf('::1')).toBe('0:0:0:0::/64');
  });

  it('leaves out the port some proxies add, and a zone id', () => {
    expect(clientOf('203.0.113.77:40001')).toBe('203.0.113.77');
    expect(clientOf('[2001:db8:1:2::9]:443')).toBe('2001:db8:1:2::/64');
    expect(clientOf('[2001:db8:1:2::9]')).toBe('2001:db8:1:2::/64');
    expect(clientOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientOf('[::ffff:192.0.2.7]:80')).toBe('192.0.2.7');
  });

  it('takes what is no address as a client of its own', () => {
    expect(clientOf('unknown')).toBe('unknown');
    expect(clientOf('')).toBe('');
  });
});

describe('ipv6Groups and mappedIpv4', () => {
  it('reads the eight groups, a dotted tail as two, and finds the IPv4 address inside a mapped one', () => {
    expect(ipv6Groups('2001:db8::1')).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
    expect(ipv6Groups('::ffff:10.1.2.3')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0a01, 0x0203]);
    expect(mappedIpv4(ipv6Groups('::ffff:10.1.2.3'))).toBe('10.1.2.3');
    expect(mappedIpv4(ipv6Groups('64:ff9b::10.1.2.3'))).toBeNull();
  });
});
