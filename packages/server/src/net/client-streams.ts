// The client streams of every transport (TCP, direct TLS, WebSocket) under one set of limits: connections per server
// and per IP, whitespace or ping keepalives and the idle timeout (RFC 6120 §4.6), and parser memory given back by
// idle peers. One sweep for all streams is cheaper than a timer per socket at tens of thousands of sessions.
import { StreamError } from '@parley/protocol';
import type { ParleyServer } from '../core/server';
import { audit } from '../core/audit';
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
  /** What per-IP counts are keyed by: the address, or its IPv6 prefix (rate_limit.ipv6_prefix_length). */
  perIpKey: (ip: string) => string;
}

/** One connection counted toward the limits (see ClientStreams.admit). */
export interface ConnectionSlot {
  release(): void;
}

export class ClientStreams {
  private readonly streams = new Set<C2sSession>();
  /** Connections counted toward the limits: the streams, and sockets still in a TLS handshake or HTTP upgrade. */
  private slots = 0;
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

  /**
   * Counts one connection from `ip` toward the limits from the moment it is accepted, a TLS handshake or an HTTP
   * upgrade included (RFC 6120 §13.12: a handshake costs the server more than the client, so a socket that never
   * finishes one must hold a slot like any other). Undefined, and the refusal in the audit log (fail2ban can act on
   * floods too), when over a limit. The slot is given back by `release` when the socket is gone.
   */
  admit(ip: string, transport: string): ConnectionSlot | undefined {
    const key = this.limits.perIpKey(ip);
    const count = this.perIp.get(key) ?? 0;
    const full = this.slots >= this.limits.maxConnections;
    if (full || (count >= this.limits.maxConnectionsPerIp && !this.limits.perIpExempt(ip))) {
      audit.connectionRefused(this.server.log, ip, transport, full ? 'c2s.max_connections reached' : 'c2s.max_connections_per_ip reached');
      return undefined;
    }
    this.slots++;
    this.perIp.set(key, count + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.slots--;
        const n = (this.perIp.get(key) ?? 1) - 1;
        if (n <= 0) this.perIp.delete(key);
        else this.perIp.set(key, n);
      },
    };
  }

  /**
   * A client stream over `conn`, on a slot admit() gave; `release` (when the transport is gone) ends its
   * bookkeeping and gives the slot back.
   */
  open(conn: Connection, transport: string, slot: ConnectionSlot): { session: C2sSession; release: () => void } {
    const session = new C2sSession(this.server, conn, this.settings);
    this.streams.add(session);
    const since = Date.now();
    audit.connectionAccepted(this.server.log, conn.remoteAddress, transport, session.id);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      audit.connectionClosed(this.server.log, conn.remoteAddress, transport, session.id, Math.round((Date.now() - since) / 1000));
      this.streams.delete(session);
      slot.release();
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
