import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { ipv6Groups, mappedIpv4 } from '../../ip-address.js';

/**
 * Addresses a callback must not reach unless the operator allows private addresses
 * (`RELAIS_CALLBACK_PRIVATE=allow`): otherwise any customer could make Relais call its own network
 * (databases, admin pages, cloud metadata at 169.254.169.254) by setting a callback URL.
 */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['fc00::', 7], // unique local
  ['fec0::', 10], // site-local (deprecated, still routed by some networks)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv6');
}

/** True for a loopback, private, link-local, shared, multicast or reserved address (IPv4, IPv6, IPv4-mapped IPv6). */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family !== 6) return false;
  const g = ipv6Groups(address);
  // An IPv4 address inside IPv6: mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d, deprecated), through
  // NAT64's well-known prefix (64:ff9b::/96), or a 6to4 gateway's (2002:AABB:CCDD::/48).
  const ipv4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  const compatible = g.slice(0, 6).every((x) => x === 0) && (g[6] !== 0 || g[7] > 1);
  const inside = mappedIpv4(g) ?? (nat64 || compatible ? ipv4(g[6], g[7]) : null) ?? (g[0] === 0x2002 ? ipv4(g[1], g[2]) : null);
  if (inside) return PRIVATE.check(inside, 'ipv4');
  return PRIVATE.check(address, 'ipv6');
}

/** The error a refused callback address gives (not worth retrying). */
export class PrivateAddressError extends Error {
  readonly code = 'PRIVATE_ADDRESS';
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, a private address: callbacks may not reach it (RELAIS_CALLBACK_PRIVATE=allow permits it)`);
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s) agents that refuses private addresses: the check happens on the address the
 * connection really uses, so a name that resolves differently later (DNS rebinding) is caught too.
 */
export function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const list = addresses as LookupAddress[];
    const blocked = list.find((a) => isPrivateAddress(a.address));
    if (blocked) return callback(new PrivateAddressError(hostname, blocked.address) as NodeJS.ErrnoException, []);
    if (options.all) return callback(null, list);
    const first = list[0];
    if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}

/** Why a callback URL's host is refused outright (an IP literal or `localhost`), or undefined. */
export function privateHostOf(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && isPrivateAddress(host)) return host;
  if (host === 'localhost' || host.endsWith('.localhost')) return host;
  return undefined;
}
