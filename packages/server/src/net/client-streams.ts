// The client streams of every transport (TCP, direct TLS, WebSocket) under one set of limits: connections per server
// and per IP, whitespace or ping keepalives and the idle timeout (RFC 6120 §4.6), and parser memory given back by
// idle peers. One sweep for all streams is cheaper than a timer per socket at tens of thousands of sessions.
import { StreamError } from '@parley/protocol';
import type { ParleyServer } from '../core/server';
import { C2sSession } from '../stream/c2s-session';
import type { C2sSettings } from '../stream/c2s-settings';
import type { Connection } from './connection';

const COMPACT_AFTER_MS = 5000;

export interface ClientStreamLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
  idleTimeoutMs: number;
  keepaliveMs: number;
  perIpExempt: (ip: string) => boolean;
}

export class ClientStreams {
  private readonly streams = new Set<C2sSession>();
  private readonly perIp = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly compactor: NodeJS.Timeout;

  constructor(
    private readonly server: ParleyServer,
    private readonly settings: C2sSettings,
    private readonly limits: ClientStreamLimits,
  ) {
    // A value of 0 turns the idle timeout or the keepalive off.
    const idleMs = limits.idleTimeoutMs || Infinity;
    const pingMs = limits.keepaliveMs || Infinity;
    const sweepEvery = Math.min(60_000, Math.max(1000, Math.min(pingMs, idleMs) / 2));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const s of this.streams) {
        const idle = now - s.machine.lastActivity;
        if (idle > idleMs) s.close(new StreamError('connection-timeout'));
        else if (idle > pingMs && s.machine.isEstablished) s.machine.keepalive();
      }
    }, sweepEvery);
    this.sweeper.unref();
    // Idle clients give back their parser memory; at tens of thousands of sessions that is most of them.
    this.compactor = setInterval(() => {
      const idleSince = Date.now() - COMPACT_AFTER_MS;
      for (const s of this.streams) if (s.machine.lastActivity < idleSince) s.machine.compact();
    }, COMPACT_AFTER_MS);
    this.compactor.unref();
  }

  /** Whether one more connection from `ip` is within the limits. */
  admits(ip: string): boolean {
    const count = this.perIp.get(ip) ?? 0;
    return this.streams.size < this.limits.maxConnections && (count < this.limits.maxConnectionsPerIp || this.limits.perIpExempt(ip));
  }

  /**
   * A client stream over `conn`, counted until `release` is called (when the transport is gone). The caller checked
   * admits() for the address.
   */
  open(conn: Connection): { session: C2sSession; release: () => void } {
    const ip = conn.remoteAddress;
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    const session = new C2sSession(this.server, conn, this.settings);
    this.streams.add(session);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.streams.delete(session);
      const n = (this.perIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, n);
    };
    return { session, release };
  }

  /** RFC 6120 §4.9.3.19: every stream ends with <system-shutdown/>. */
  closeAll(): void {
    clearInterval(this.sweeper);
    clearInterval(this.compactor);
    for (const s of this.streams) s.close(new StreamError('system-shutdown'));
  }
}
