// XEP-0313 Message Archive Management for user archives (room archives are served by the MUC module through
// engine.ts), with XEP-0059 paging, XEP-0359 stanza ids, XEP-0441 preferences and an optional retention limit.
import { z } from 'zod';
import { NS, StanzaError, Jid, parseXml, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import type { IqRequest } from '../../core/iq';
import type { ArchiveItem } from '../../storage/types';
import { registerArchiving } from './archiving';
import { registerRetraction } from './retraction';
import { answerMamQuery, archiveMetadata, queryForm, type ArchiveTarget } from './engine';
import { ArchivePrefs, parsePrefs, prefsElement, POLICIES, type DefaultPolicy, type Prefs } from './prefs';
import { scheduleRetention } from './retention';

export interface MamOptions {
  default_policy: DefaultPolicy;
  max_page: number;
  max_age_days: number;
}

const options = z.object({
  default_policy: z.enum(POLICIES as [DefaultPolicy, ...DefaultPolicy[]]).default('always').describe('Archiving default of users without preferences (XEP-0441): always, never or roster'),
  max_page: z.int().min(1).max(1000).default(100).describe('Most results per XEP-0313 query page; a larger RSM <max/> is clamped'),
  max_age_days: z.number().min(0).default(0).describe('Delete archived messages older than this many days (0 keeps them forever)'),
});

/** Parses a stored payload; a corrupt one is skipped (logged) rather than failing the query. */
export function storedMessage(item: ArchiveItem): XmlElement | undefined {
  try {
    const msg = parseXml(item.payload);
    // XEP-0297 §3: the forwarded stanza keeps its own namespace.
    msg.attrs.xmlns = NS.CLIENT;
    return msg;
  } catch {
    return undefined;
  }
}

/** §4.1.1 user archives: a bare 'with' matches every resource; a full one only messages from or to it. */
function userWith(jid: Jid): { with: string; keep?: (item: ArchiveItem) => boolean } {
  if (jid.resource === undefined) return { with: jid.toBareString() };
  const full = jid.toString();
  return {
    with: jid.toBareString(),
    keep: (item) => {
      const msg = storedMessage(item);
      return msg !== undefined && (Jid.tryParse(msg.attrs.from)?.toString() === full || Jid.tryParse(msg.attrs.to)?.toString() === full);
    },
  };
}

export default defineModule<MamOptions>({
  name: 'mam',
  specs: [
    { spec: 'XEP-0313', version: '1.1.3', status: 'complete', note: 'user archives here, room archives in the MUC module; no include-groupchat' },
    { spec: 'XEP-0059', version: '1.0', status: 'partial', note: 'in MAM queries: max, after, before, count; no index paging' },
    { spec: 'XEP-0359', version: '0.7.0', status: 'partial', note: 'stanza-id on archived messages' },
    { spec: 'XEP-0441', version: '0.2.0', status: 'complete' },
    { spec: 'XEP-0424', version: '0.4.2', status: 'partial', note: 'archives: a one-to-one retraction tombstones the sender\'s own message in both archives; in rooms by the MUC module' },
  ],
  options: options as unknown as z.ZodType<MamOptions>,
  setup(ctx) {
    const store = ctx.archive('mam');
    const { cluster } = ctx.server;
    const prefs = new ArchivePrefs(ctx.keyval<Prefs>('mam_prefs'), ctx.map('roster'), ctx.options.default_policy, (owner) => cluster.invalidate('mam-prefs', owner));
    cluster.onInvalidate('mam-prefs', (owner) => prefs.forget(owner));
    registerArchiving(ctx, store, prefs);
    registerRetraction(ctx, store);

    /** §3.3.1: a user's archive is on the user's bare JID, for the user alone (§8.1: forbidden otherwise). */
    function owner(req: IqRequest): string {
      if (!req.isSelf) throw new StanzaError('forbidden', 'Only the account owner may use its archive');
      return req.from.toBareString();
    }

    function target(req: IqRequest): ArchiveTarget {
      const own = owner(req);
      const session = req.session;
      return {
        store,
        owner: own,
        archiveJid: own,
        maxPage: ctx.options.max_page,
        resolveWith: userWith,
        render: (item) => {
          const msg = storedMessage(item);
          if (!msg) ctx.log.warn({ owner: own, id: item.id }, 'skipping an unreadable archived message');
          return msg;
        },
        // Results go straight to the asking session, ahead of the iq result (§4.3), never through delivery hooks.
        send: (stanza) => (session ? session.send(stanza) : ctx.server.send(stanza)),
      };
    }

    ctx.iq.set(NS.MAM, 'query', { to: ['bare'] }, (req) => answerMamQuery(target(req), req.payload, req.from.toString()));
    // §4.1.5: the fields a query may use.
    ctx.iq.get(NS.MAM, 'query', { to: ['bare'] }, (req) => {
      owner(req);
      return queryForm();
    });
    ctx.iq.get(NS.MAM, 'metadata', { to: ['bare'] }, (req) => archiveMetadata(store, owner(req)));
    ctx.iq.get(NS.MAM, 'prefs', { to: ['bare'] }, async (req) => prefsElement(await prefs.get(owner(req))));
    ctx.iq.set(NS.MAM, 'prefs', { to: ['bare'] }, async (req) => {
      const own = owner(req);
      const p = parsePrefs(req.payload);
      await prefs.set(own, p);
      return prefsElement(p);
    });
    // §7: servers with the #extended fields say so next to urn:xmpp:mam:2.
    ctx.disco.account.features.add(NS.MAM_EXTENDED);
    ctx.onStop(() => {
      ctx.disco.account.features.delete(NS.MAM_EXTENDED);
    });

    ctx.on('account/deleted', async ({ jid }) => {
      await store.delete(jid.toBareString());
      await prefs.set(jid.toBareString(), undefined);
    });

    scheduleRetention(ctx, { users: store, rooms: ctx.archive('muc_history'), roomList: ctx.map('muc_rooms') }, ctx.options.max_age_days);
  },
});
