// XEP-0215 External Service Discovery: tells the server's own users which STUN/TURN servers to use for calls
// (XEP-0167 Jingle RTP through NAT, as Conversations, Dino and Monal do), with time-limited TURN credentials
// in the "TURN REST API" shared-secret scheme that coturn implements (use-auth-secret / static-auth-secret):
// username = "<expiry unix time>:<bare JID>", password = base64(HMAC-SHA1(secret, username)). The secret never
// leaves the server; a leaked password stops working at its expiry.
import { z } from 'zod';
import { NS, StanzaError, xml, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import type { IqRequest } from '../../core/iq';
import { turnCredentials } from './credentials';

const SERVICE_TYPES = ['stun', 'stuns', 'turn', 'turns'] as const;

const service = z.object({
  type: z.enum(SERVICE_TYPES).describe('stun, stuns, turn or turns (XEP-0215 §3: the IANA URI scheme)'),
  host: z.string().min(1).describe('Host name or IP address clients connect to'),
  port: z.number().int().min(1).max(65535).optional().describe('Port (clients default to 3478, 5349 for stuns/turns)'),
  transport: z.enum(['udp', 'tcp']).optional().describe('udp or tcp'),
  name: z.string().min(1).optional().describe('A name shown to users'),
  secret: z.string().min(1).optional().describe("coturn's static-auth-secret: with it, users get time-limited credentials"),
  ttl: z.number().int().min(60).max(7 * 86400).default(86400).describe('Seconds the credentials stay valid'),
});

export type ExternalService = z.infer<typeof service>;

export interface ExtdiscoOptions {
  services: ExternalService[];
}

const options = z.object({
  services: z.array(service).max(50).default([]).describe('STUN/TURN servers announced to users (XEP-0215)'),
});

/** §3.1: one <service/>; credentials for those with a shared secret (§3.2 says they may come with the list). */
function serviceElement(s: ExternalService, user: string, now: number): XmlElement {
  const attrs: Record<string, string | undefined> = {
    type: s.type,
    host: s.host,
    port: s.port !== undefined ? String(s.port) : undefined,
    transport: s.transport,
    name: s.name,
  };
  if (s.secret !== undefined) {
    const c = turnCredentials(s.secret, user, s.ttl, now);
    // §3.1: 'restricted' says the credentials are needed; 'expires' when they stop working.
    Object.assign(attrs, { username: c.username, password: c.password, expires: new Date(c.expires * 1000).toISOString(), restricted: '1' });
  }
  return xml('service', attrs);
}

export default defineModule<ExtdiscoOptions>({
  name: 'extdisco',
  specs: [{ spec: 'XEP-0215', version: '1.0.0', status: 'complete', note: 'TURN REST API credentials (coturn use-auth-secret)' }],
  options: options as unknown as z.ZodType<ExtdiscoOptions>,
  setup(ctx) {
    const services = ctx.options.services;
    if (services.length === 0) return;

    /** Only the server's own users get the list (the credentials are theirs); §6 security considerations. */
    function user(req: IqRequest): string {
      if (req.origin.kind !== 'c2s' || req.from.domain !== ctx.server.domain || req.from.local === undefined) {
        throw new StanzaError('forbidden', 'external services are for users of this server');
      }
      return req.from.toBareString();
    }

    // §3.1: all services, or those of one type.
    ctx.iq.get(NS.EXTDISCO, 'services', { to: ['host'] }, (req) => {
      const who = user(req);
      const type = req.payload.attrs.type;
      const now = Date.now();
      const out = xml('services', { xmlns: NS.EXTDISCO, type });
      for (const s of services) if (type === undefined || s.type === type) out.append(serviceElement(s, who, now));
      return out;
    });

    // §3.2: fresh credentials for one service, named by host (and type, port when several match).
    ctx.iq.get(NS.EXTDISCO, 'credentials', { to: ['host'], feature: false }, (req) => {
      const who = user(req);
      const wanted = req.payload.getChild('service');
      if (!wanted?.attrs.host) throw new StanzaError('bad-request', 'name the service by host');
      const match = services.find(
        (s) =>
          s.host === wanted.attrs.host &&
          (wanted.attrs.type === undefined || s.type === wanted.attrs.type) &&
          (wanted.attrs.port === undefined || String(s.port) === wanted.attrs.port),
      );
      if (!match) throw new StanzaError('item-not-found', 'no such service');
      return xml('credentials', { xmlns: NS.EXTDISCO }, serviceElement(match, who, Date.now()));
    });
  },
});
