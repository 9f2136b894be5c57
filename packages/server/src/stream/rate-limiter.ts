// Per-IP counters with a sliding one-window reset (failed authentications, registrations). Addresses in the
// exempt networks (loopback by default, as Prosody does) are never limited, so local tools and tests are not.
import { BlockList, isIPv6 } from 'node:net';

export class IpRateLimiter {
  private readonly counts = new Map<string, { count: number; resetAt: number }>();
  private readonly exempt = new BlockList();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    exemptNetworks: string[],
  ) {
    for (const net of exemptNetworks) {
      const [addr, bits] = net.split('/');
      const type = isIPv6(addr!) ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.exempt.addAddress(addr!, type);
      else this.exempt.addSubnet(addr!, Number(bits), type);
    }
  }

  isExempt(ip: string): boolean {
    return this.exempt.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
  }

  /** Counts one event; returns false when the address is over its limit. */
  hit(ip: string, now = Date.now()): boolean {
    if (this.isExempt(ip)) return true;
    let entry = this.counts.get(ip);
    if (!entry || entry.resetAt <= now) {
      entry = { count: 0, resetAt: now + this.windowMs };
      this.counts.set(ip, entry);
      if (this.counts.size > 100_000) this.prune(now);
    }
    entry.count++;
    return entry.count <= this.limit;
  }

  /** Whether the address is currently over its limit, without counting. */
  isLimited(ip: string, now = Date.now()): boolean {
    if (this.isExempt(ip)) return false;
    const entry = this.counts.get(ip);
    return entry !== undefined && entry.resetAt > now && entry.count >= this.limit;
  }

  private prune(now: number): void {
    for (const [ip, e] of this.counts) if (e.resetAt <= now) this.counts.delete(ip);
  }
}
