// Per-address counters with a sliding one-window reset (failed authentications, registrations), and the key every
// per-address limit counts under (these and the connection limits of net/c2s-listener.ts). Addresses in the
// exempt networks (loopback by default, as Prosody does) are never limited, so local tools and tests are not.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** rate_limit.ipv6_prefix_length's default: one IPv6 subscriber usually holds a whole /64 (RFC 6177 §2, RFC 7084). */
export const DEFAULT_IPV6_PREFIX_LENGTH = 64;

/** The 8 groups of an IPv6 address ('::' expanded, a trailing dotted IPv4 part and a zone id allowed), or undefined. */
function ipv6Groups(ip: string): number[] | undefined {
  const addr = ip.replace(/%.*$/, '');
  if (!isIPv6(addr)) return undefined;
  let text = addr;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/**
 * The key an address is counted under: an IPv4 address itself, an IPv6 address by its first `ipv6PrefixLength`
 * bits. Counting single IPv6 addresses would let anyone holding a /64 (the usual end-site assignment) take 2^64
 * fresh addresses and so step around every per-address limit.
 */
export function addressKey(ip: string, ipv6PrefixLength = DEFAULT_IPV6_PREFIX_LENGTH): string {
  if (isIPv4(ip)) return ip;
  const groups = ipv6Groups(ip);
  if (!groups) return ip;
  const masked = groups.map((g, i) => {
    const bits = Math.min(16, Math.max(0, ipv6PrefixLength - i * 16));
    return bits === 0 ? 0 : g & (0xffff << (16 - bits)) & 0xffff;
  });
  return `${masked.map((g) => g.toString(16)).join(':')}/${ipv6PrefixLength}`;
}

export interface AddressLimitOptions {
  /** Networks never limited (rate_limit.exempt_networks). */
  exemptNetworks: string[];
  /** IPv6 addresses sharing this many leading bits count as one (rate_limit.ipv6_prefix_length). */
  ipv6PrefixLength?: number;
}

/** Which addresses are limited, and under which key: shared by every per-address limit. */
export class AddressPolicy {
  private readonly exempt = new BlockList();
  private readonly ipv6PrefixLength: number;

  constructor(opts: AddressLimitOptions) {
    this.ipv6PrefixLength = opts.ipv6PrefixLength ?? DEFAULT_IPV6_PREFIX_LENGTH;
    for (const net of opts.exemptNetworks) {
      const [addr, bits] = net.split('/');
      const type = isIPv6(addr!) ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.exempt.addAddress(addr!, type);
      else this.exempt.addSubnet(addr!, Number(bits), type);
    }
  }

  isExempt(ip: string): boolean {
    const type = isIPv6(ip) ? 'ipv6' : isIPv4(ip) ? 'ipv4' : undefined;
    return type !== undefined && this.exempt.check(ip, type);
  }

  keyOf(ip: string): string {
    return addressKey(ip, this.ipv6PrefixLength);
  }
}

export class IpRateLimiter {
  private readonly counts = new Map<string, { count: number; resetAt: number }>();
  readonly addresses: AddressPolicy;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    addresses: AddressPolicy | string[],
  ) {
    this.addresses = Array.isArray(addresses) ? new AddressPolicy({ exemptNetworks: addresses }) : addresses;
  }

  isExempt(ip: string): boolean {
    return this.addresses.isExempt(ip);
  }

  /** Counts one event; returns false when the address (its IPv6 prefix) is over its limit. Synchronous on purpose. */
  hit(ip: string, now = Date.now()): boolean {
    if (this.isExempt(ip)) return true;
    const key = this.addresses.keyOf(ip);
    let entry = this.counts.get(key);
    if (!entry || entry.resetAt <= now) {
      entry = { count: 0, resetAt: now + this.windowMs };
      this.counts.set(key, entry);
      if (this.counts.size > 100_000) this.prune(now);
    }
    entry.count++;
    return entry.count <= this.limit;
  }

  /** Whether the address is currently over its limit, without counting. */
  isLimited(ip: string, now = Date.now()): boolean {
    if (this.isExempt(ip)) return false;
    const entry = this.counts.get(this.addresses.keyOf(ip));
    return entry !== undefined && entry.resetAt > now && entry.count >= this.limit;
  }

  private prune(now: number): void {
    for (const [key, e] of this.counts) if (e.resetAt <= now) this.counts.delete(key);
  }
}
