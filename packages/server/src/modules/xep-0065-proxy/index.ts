// XEP-0065 SOCKS5 Bytestreams, the proxy (§6 mediated connections): a service (proxy.<domain>) that tells
// requesters its network address (§6.3.1 / §4) and relays the bytes of two SOCKS5 connections once the
// requester activates the bytestream (§6.3.4). Clients talking directly (§5) need nothing from the server.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Jid, NS, StanzaError, xml } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { Socks5Proxy } from './socks5';

const options = z.strictObject({
  host: z.string().min(1).default('127.0.0.1').describe('Address clients connect to, advertised in <streamhost host=…/>'),
  port: z.number().int().min(0).max(65535).default(7777).describe('SOCKS5 port; 0 picks a free one'),
  bind: z.string().min(1).optional().describe('Address to listen on. Default: host'),
  max_pending: z.number().int().min(2).default(100).describe('Connections waiting for activation, all users together'),
  idle_timeout_s: z.number().int().min(1).default(120).describe('Close a bytestream connection idle this many seconds, before or after activation'),
});

/** §5.3.2: the SOCKS5 DST.ADDR, SHA1(SID + Requester JID + Target JID) in hex, over normalised JIDs. */
export function streamHash(sid: string, requester: string, target: string): string {
  return createHash('sha1').update(`${sid}${requester}${target}`, 'utf8').digest('hex');
}

export default defineModule({
  name: 'proxy',
  specs: [{ spec: 'XEP-0065', version: '1.8.2', status: 'complete', note: 'proxy (§6) over TCP; no UDP mode' }],
  options,
  async setup(ctx) {
    const { server } = ctx;
    const address = server.config.services.proxy;
    if (address === false) return;
    const o = ctx.options as z.output<typeof options>;
    const proxy = new Socks5Proxy({ maxPending: o.max_pending, idleTimeoutMs: o.idle_timeout_s * 1000 });
    const service = ctx.service(address, { category: 'proxy', type: 'bytestreams', name: 'SOCKS5 Bytestreams' });

    // The listener opens on first use: the CLI builds the same core to run admin commands, and must neither
    // take the port nor fail when a running server holds it.
    let listening: Promise<number> | undefined;
    const port = (): Promise<number> => {
      listening ??= proxy.listen(o.port, o.bind ?? o.host).catch((err: unknown) => {
        listening = undefined;
        ctx.log.error({ err, port: o.port }, 'SOCKS5 proxy cannot listen');
        // §6.3.1 (A7): a proxy unable to act as a StreamHost answers not-allowed.
        throw new StanzaError('not-allowed', 'the proxy is not available');
      });
      return listening;
    };
    ctx.onStop(() => proxy.close());

    /** Only our own users may use the proxy (§6.3.1: forbidden otherwise), or it relays for the whole network. */
    const requireLocal = (from: Jid) => {
      if (from.domain !== server.domain || from.local === undefined) throw new StanzaError('forbidden', 'the proxy serves users of this server only');
    };

    // §6.3.1 / §4: the network address of the StreamHost.
    service.iq.get(NS.BYTESTREAMS, 'query', { to: ['host'] }, async ({ from }) => {
      requireLocal(from);
      return xml('query', { xmlns: NS.BYTESTREAMS }, xml('streamhost', { jid: service.domain, host: o.host, port: String(await port()) }));
    });

    // §6.3.4: activation by the requester, naming the target; the hash ties sid, requester and target together.
    service.iq.set(NS.BYTESTREAMS, 'query', { to: ['host'] }, ({ from, payload }) => {
      requireLocal(from);
      const sid = payload.attrs.sid;
      const activate = payload.getChildText('activate');
      if (!sid || activate === undefined) throw new StanzaError('bad-request', 'expected <query sid=…><activate>target JID</activate></query>');
      const target = Jid.tryParse(activate.trim());
      if (!target) throw new StanzaError('jid-malformed', 'the activate element must hold the target JID');
      const result = proxy.activate(streamHash(sid, from.toString(), target.toString()));
      // §6.3.4 conditions: no such bytestream for this requester → item-not-found; one party only → not-allowed.
      if (result === 'not-found') throw new StanzaError('item-not-found', 'no bytestream with this sid from you to this target');
      if (result === 'one-party') throw new StanzaError('not-allowed', 'only one party is connected to the proxy');
      if (result === 'active') throw new StanzaError('not-allowed', 'the bytestream is already active');
      return null;
    });
  },
});
