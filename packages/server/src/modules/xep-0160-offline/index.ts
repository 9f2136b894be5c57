// XEP-0160: offline messages. A chat or normal message to an existing account with no available resource of
// non-negative priority (the routing module left it to us, RFC 6121 §8.5.2.2.1) is stored with a XEP-0203
// delay stamp, and delivered when the user next sends available presence with a non-negative priority.
import { NS, StanzaError, parseXml, xml, type Jid, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { Priority } from '../../core/hooks';
import type { Session } from '../../core/sessions';

declare module '../../core/events' {
  interface ServerEvents {
    /** A message was stored for an account with no available resource (XEP-0357 push notifications follow it). */
    'offline-message/stored': { stanza: XmlElement; from: Jid; to: Jid };
  }
}

export default defineModule({
  name: 'offline',
  specs: [
    { spec: 'XEP-0160', version: '1.0.1', status: 'complete' },
    { spec: 'XEP-0203', version: '2.0', status: 'partial', note: 'delay stamps on offline messages' },
    { spec: 'XEP-0334', version: '0.3.0', status: 'partial', note: 'store and no-store hints for offline storage' },
  ],
  setup(ctx) {
    const { accounts, sessions, domain, config } = ctx.server;
    const archive = ctx.archive('offline');
    // Storing and delivering for one user never interleave: two resources coming online together must not
    // both get the queue, and a count must not race an append. ctx.exclusive makes that hold across the nodes
    // sharing a postgres database too (a transaction with the user's row locked).
    const queue = { run: <T>(owner: string, fn: () => Promise<T>) => ctx.exclusive('offline', owner, fn) };

    // XEP-0160 §4: servers that store offline messages say so.
    ctx.disco.host.features.add(NS.MSGOFFLINE);
    ctx.onStop(() => {
      ctx.disco.host.features.delete(NS.MSGOFFLINE);
    });

    ctx.on(
      'message/bare',
      async ({ stanza, from, to }) => {
        // XEP-0160 §3: normal (or no type) and chat are stored; groupchat, headline and error are not.
        const type = stanza.attrs.type ?? 'normal';
        if (type !== 'normal' && type !== 'chat') return false;
        if (to.local === undefined || !(await accounts.exists(to.local))) return false;
        // RFC 6121 §8.5.2.2.1: a message we do not store is answered with service-unavailable.
        if (!isWorthStoring(stanza)) throw new StanzaError('service-unavailable');
        const owner = to.toBareString();
        await queue.run(owner, async () => {
          const now = Date.now();
          const stored = stanza.clone();
          // XEP-0160 §2 (RECOMMENDED) / XEP-0203: when and where the message waited.
          stored.append(xml('delay', { xmlns: NS.DELAY, from: domain, stamp: new Date(now).toISOString() }, 'Offline Storage'));
          const payload = stored.toString();
          // XEP-0160 §2: a full queue is service-unavailable for the sender (as RFC 6121 §8.5.2.2.1 answers a
          // message not stored). Full by count or by bytes: a count alone lets 1000 stanzas of 256 KiB each pile up.
          const usage = await archive.usage(owner);
          if (usage.items >= config.offline.max_per_user || usage.bytes + Buffer.byteLength(payload, 'utf8') > config.offline.max_bytes_per_user) {
            throw new StanzaError('service-unavailable', 'The recipient’s offline storage is full');
          }
          await archive.append(owner, { when: now, with: from.toBareString(), payload });
        });
        ctx.server.hooks.emit('offline-message/stored', { stanza, from, to }, (err) => ctx.log.error({ err }, 'offline-message/stored handler failed'));
        return true;
      },
      Priority.Fallback,
    );

    ctx.on('session/available', async ({ session }) => {
      // XEP-0160 §2: delivery goes to the resource that sent non-negative available presence. Awaited, so the
      // stored messages reach the client before anything else its stream goes on to cause.
      if (session.priority < 0) return false;
      const owner = session.jid.toBareString();
      try {
        await queue.run(owner, () => deliver(owner, session));
      } catch (err) {
        ctx.log.error({ err, owner }, 'offline delivery failed');
      }
      return false;
    });

    /**
     * Delivers the stored messages a batch at a time (offline.delivery_batch), each batch read, written and
     * deleted before the next: a user with thousands waiting never has them all in memory, nor in one write.
     * Between batches the connection drains (when its transport has write backpressure) and other streams get
     * their turn. A session that goes away in the meantime keeps the rest for next time.
     */
    async function deliver(owner: string, session: Session): Promise<void> {
      const isCurrent = () => sessions.get(session.jid) === session;
      for (;;) {
        if (!isCurrent()) return;
        const { items, complete } = await archive.query(owner, { limit: config.offline.delivery_batch });
        const done: string[] = [];
        for (const item of items) {
          if (!isCurrent()) break;
          let message: XmlElement | undefined;
          try {
            message = parseXml(item.payload);
          } catch (err) {
            ctx.log.warn({ err, owner, id: item.id }, 'dropping an unreadable offline message');
          }
          if (message) session.send(message);
          done.push(item.id);
        }
        if (done.length > 0) await archive.delete(owner, { ids: done });
        if (complete || done.length < items.length) return;
        await session.drained?.();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }

    ctx.on('account/deleted', async ({ jid }) => {
      await archive.delete(jid.toBareString());
    });
  },
});

/**
 * XEP-0334: <no-store/> forbids even temporary storage, <store/> asks for it. Otherwise XEP-0160 §3: store
 * unless the message carries only chat states (XEP-0085), nothing worth keeping once the moment is gone.
 * <no-permanent-store/> does not apply: it excludes archives, not delivery to an offline recipient.
 */
export function isWorthStoring(stanza: XmlElement): boolean {
  if (stanza.getChild('no-store', NS.HINTS)) return false;
  if (stanza.getChild('store', NS.HINTS)) return true;
  return stanza.elements().some((el) => {
    const ns = el.attrs.xmlns ?? NS.CLIENT;
    if (ns === NS.CHATSTATES || ns === NS.HINTS || ns === NS.STANZA_ID) return false;
    return !(ns === NS.CLIENT && el.name === 'thread');
  });
}
