// XEP-0045 multi-user chat on the conference service (config services.conference; false disables it), with
// XEP-0421 occupant ids and XEP-0249 direct invitations (plain messages between users, routed by the core).
// Stanzas to one room are handled one at a time (a per-room queue), so joins and role changes never interleave.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { NS, StanzaError } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import type { StanzaEvent } from '../../core/events';
import type { IqRequest } from '../../core/iq';
import { adminGet, adminSet } from './admin';
import { roomInfo, roomItems, serviceInfo, serviceItems } from './disco';
import { handleMessage } from './messages';
import { ownerGet, ownerSet } from './owner';
import { handlePresence } from './presence';
import { registerGet, registerSet } from './register';
import type { Room } from './room';
import { MucService, type MucOptions } from './service';
import type { StoredHistory } from './history';
import { forwardIq } from './iq-forward';
import { mamForm, mamMetadata, mamQuery } from './mam';
import { applyToIq, moderateIq } from './moderation';

type RoomIq = (svc: MucService, room: Room, req: IqRequest) => unknown;

const ROOM_IQS: Record<string, RoomIq> = {
  [`get|${NS.MUC_OWNER}|query`]: ownerGet,
  [`set|${NS.MUC_OWNER}|query`]: ownerSet,
  [`get|${NS.MUC_ADMIN}|query`]: adminGet,
  [`set|${NS.MUC_ADMIN}|query`]: adminSet,
  [`get|${NS.DISCO_INFO}|query`]: (_svc, room, req) => roomInfo(room, req),
  [`get|${NS.DISCO_ITEMS}|query`]: (_svc, _room, req) => roomItems(req),
  [`get|${NS.REGISTER}|query`]: registerGet,
  [`set|${NS.REGISTER}|query`]: registerSet,
  // XEP-0313 §3.3.2: the room's archive (mam.ts).
  [`set|${NS.MAM}|query`]: mamQuery,
  [`get|${NS.MAM}|query`]: mamForm,
  [`get|${NS.MAM}|metadata`]: mamMetadata,
  // XEP-0425: moderators retract messages (moderation.ts), current form and the 0.2 fastening form.
  [`set|${NS.MODERATE}|moderate`]: moderateIq,
  [`set|${NS.FASTEN}|apply-to`]: applyToIq,
};

const options = z.object({
  max_history: z.number().int().min(0).max(10_000).default(100).describe('Upper bound of muc#roomconfig_historylength'),
  default_history: z.number().int().min(0).max(10_000).default(20).describe('History length of new rooms (XEP-0045 §7.2.15)'),
  restrict_room_creation: z.boolean().default(false).describe('Only server administrators may create rooms'),
  max_rooms_per_user: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(50)
    .describe('Rooms one user may have created that still exist (XEP-0045 §10.1.1); administrators are exempt'),
  max_history_bytes: z
    .number()
    .int()
    .min(0)
    .max(64 * 1024 * 1024)
    .default(64 * 1024)
    .describe('Bytes of discussion history a room keeps (serialised stanzas), besides its history length (§7.2.15)'),
  max_invites_per_message: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(5)
    .describe('Invitees one mediated invitation message may name (§7.8.2); more is refused with policy-violation'),
});

export default defineModule<MucOptions>({
  name: 'muc',
  specs: [
    { spec: 'XEP-0045', version: '1.35', status: 'partial', note: 'no room registration approval workflow, no nick-based iq forwarding beyond results; multi-session nicks' },
    { spec: 'XEP-0421', version: '0.2.0', status: 'complete' },
    { spec: 'XEP-0249', version: '1.2', status: 'complete', note: 'messages between users, nothing to do on the service' },
    { spec: 'XEP-0410', version: '1.1.0', status: 'complete', note: 'self-pings answered by the room (§3.3)' },
    { spec: 'XEP-0425', version: '0.3.0', status: 'complete', note: 'retraction only; the 0.2 apply-to form accepted too' },
    { spec: 'XEP-0424', version: '0.4.2', status: 'partial', note: 'in rooms: own retraction by stanza-id, tombstone in history and archive' },
  ],
  options: options as unknown as z.ZodType<MucOptions>,
  async setup(ctx) {
    const domain = ctx.server.config.services.conference;
    if (domain === false) return;
    const service = ctx.service(domain, { category: 'conference', type: 'text', name: 'Chatrooms' }, { affinity: 'entity' });
    for (const f of [NS.MUC, NS.OCCUPANT_ID, NS.DISCO_INFO, NS.DISCO_ITEMS]) service.info.features.add(f);

    // XEP-0421 §3: the occupant-id secret lives as long as the service.
    const secrets = ctx.keyval<string>('muc_secret');
    let secret = await secrets.get(service.domain);
    if (!secret) {
      secret = randomBytes(32).toString('base64');
      await secrets.set(service.domain, secret);
    }
    const svc = new MucService(ctx, service.domain, secret, ctx.map('muc_rooms'), ctx.archive('muc_history'), ctx.keyval<StoredHistory>('muc_room_history'));
    await svc.load();
    // §7.2.15 history of persistent rooms outlives a restart: occupied rooms write theirs at shutdown.
    ctx.onStop(() => svc.saveAllHistory());
    // In a cluster, rooms move between nodes as nodes die and return (service.ts serve/releaseMoved).
    const moves = ctx.server.cluster.onNodesChanged(() => void svc.releaseMoved().catch((err) => ctx.log.warn({ err }, 'muc: releasing moved rooms failed')));
    ctx.onStop(() => moves.dispose());
    ctx.on('status/requested', ({ fields }) => {
      // In a cluster, the rooms this node serves (every node knows every persistent room).
      const { cluster } = ctx.server;
      const rooms = cluster.enabled ? [...svc.rooms.keys()].filter((k) => cluster.serves(k)).length : svc.rooms.size;
      fields.push({ name: 'muc.rooms', label: `rooms on ${service.domain}`, values: [String(rooms)] });
    });

    service.iq.get(NS.DISCO_INFO, 'query', { to: ['host'], feature: false }, (req) => serviceInfo(service.info, req));
    service.iq.get(NS.DISCO_ITEMS, 'query', { to: ['host'], feature: false }, (req) => serviceItems(svc, req));

    const queues = new Map<string, Promise<void>>();
    function serial(key: string, fn: () => Promise<void>): Promise<void> {
      const run = (queues.get(key) ?? Promise.resolve()).then(fn);
      const tail = run.catch(() => {});
      queues.set(key, tail);
      void tail.then(() => {
        if (queues.get(key) === tail) queues.delete(key);
      });
      return run;
    }

    async function roomStanza(event: StanzaEvent): Promise<void> {
      const { stanza, to } = event;
      if (stanza.name === 'presence') return handlePresence(svc, event);
      if (stanza.name === 'message') return handleMessage(svc, event);
      // iq
      if (to.resource !== undefined) return forwardIq(svc, event);
      const type = stanza.attrs.type;
      if (type !== 'get' && type !== 'set') return;
      const room = svc.get(to);
      const payload = stanza.elements()[0];
      const handler = payload && ROOM_IQS[`${type}|${payload.attrs.xmlns ?? ''}|${payload.name}`];
      await ctx.server.router.runIq(async (req) => {
        // §10.1.2: a locked room is visible to its owner only.
        if (!room || (room.locked && room.affiliation(req.from) !== 'owner')) throw new StanzaError('item-not-found', 'no such room');
        if (!handler) throw new StanzaError('service-unavailable');
        return (await handler(svc, room, req)) as never;
      }, event);
    }

    service.onStanza((event) => {
      const { stanza, to } = event;
      if (to.local === undefined) {
        // The service itself: only the iqs registered above; everything else is refused or dropped.
        if (stanza.name === 'message' && stanza.attrs.type !== 'error' && stanza.attrs.type !== 'groupchat') throw new StanzaError('service-unavailable');
        if (stanza.name === 'iq' && (stanza.attrs.type === 'get' || stanza.attrs.type === 'set')) throw new StanzaError('service-unavailable');
        return;
      }
      const key = to.toBareString();
      // Errors bounced by occupants' servers may arrive while the room is waiting on that very delivery:
      // queue them without waiting, so that a bounce never deadlocks its room.
      if (stanza.attrs.type === 'error' || (stanza.name === 'iq' && stanza.attrs.type === 'result')) {
        void serial(key, async () => {
          await svc.serve(key);
          return roomStanza(event);
        }).catch((err) => ctx.log.warn({ err }, 'muc error handling failed'));
        return;
      }
      return serial(key, async () => {
        await svc.serve(key);
        return roomStanza(event);
      });
    });
  },
});
