import { isIP } from 'node:net';

/** The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail read as two groups). */
export function ipv6Groups(address: string): number[] {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => Number.parseInt(g, 16));
}

/** The IPv4 address inside an IPv4-mapped IPv6 one (`::ffff:a.b.c.d`, however written), else null. */
export function mappedIpv4(groups: readonly number[]): string | null {
  if (!groups.slice(0, 5).every((x) => x === 0) || groups[5] !== 0xffff) return null;
  return `${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
}

/**
 * The client a limit counts: an IPv4 address (also when written IPv4-mapped, in any spelling), or the
 * /64 of an IPv6 one — a host usually has a whole /64 to pick addresses from. A port some proxies add
 * (`203.0.113.7:40001`, `[2001:db8::1]:443`) and a zone id are left out; what is no address at all is
 * its own client.
 */
export function clientOf(ip: string): string {
  if (!ip.includes(':')) return ip; // IPv4, as most clients are: nothing to read (on every request)
  let address = ip;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1];
  else address = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(address)?.[1] ?? address;
  address = address.replace(/%.*$/, '');
  const family = isIP(address);
  if (family !== 6) return address;
  const groups = ipv6Groups(address);
  return (
    mappedIpv4(groups) ??
    `${groups
      .slice(0, 4)
      .map((g) => g.toString(16))
      .join(':')}::/64`
  );
}
