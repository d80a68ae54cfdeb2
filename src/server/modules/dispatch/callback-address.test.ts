import { describe, expect, it } from 'vitest';
import { isPrivateAddress, privateHostOf, publicOnlyLookup } from './callback-address.js';

describe('callback addresses', () => {
  it('tells private, loopback, link-local and reserved addresses from public ones', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '::ffff:7f00:1',
      '64:ff9b::a9fe:a9fe',
      '64:ff9b::169.254.169.254',
      '64:ff9b::a00:1',
      '::127.0.0.1',
      '::a9fe:a9fe',
      '2002:7f00:1::1',
      '2002:a9fe:a9fe::',
      'fec0::1',
      '100::1',
    ]) {
      expect([a, isPrivateAddress(a)]).toEqual([a, true]);
    }
    for (const a of [
      '8.8.8.8',
      '172.32.0.1',
      '192.169.0.1',
      '1.1.1.1',
      '2001:4860:4860::8888',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
      '::8.8.8.8',
      '2002:808:808::1',
    ]) {
      expect([a, isPrivateAddress(a)]).toEqual([a, false]);
    }
  });

  it('refuses IP literals and localhost in a URL, lets names through to the connect-time check', () => {
    expect(privateHostOf(new URL('http://127.0.0.1:8080/cb'))).toBe('127.0.0.1');
    expect(privateHostOf(new URL('http://[::1]/cb'))).toBe('::1');
    expect(privateHostOf(new URL('http://localhost/cb'))).toBe('localhost');
    expect(privateHostOf(new URL('https://api.example.com/cb'))).toBeUndefined();
    expect(privateHostOf(new URL('https://93.184.215.14/cb'))).toBeUndefined();
  });

  it('refuses at connect time a name that resolves to a private address', async () => {
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => publicOnlyLookup('localhost', {}, (e) => resolve(e)));
    expect(error?.code).toBe('PRIVATE_ADDRESS');
    expect(error?.message).toContain('private address');
  });
});
