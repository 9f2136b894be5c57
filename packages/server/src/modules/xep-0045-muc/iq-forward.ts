// XEP-0045 §7.? (IQ to an occupant, cf. §6.6 disco of an occupant): an occupant's iq to room/nick goes to the
// target's real JID from the sender's room/nick, with an id of the room's own; the reply travels back the same
// way. Non-occupants get not-acceptable, unknown nicks item-not-found. XEP-0410 self-pings are answered here.
import { NS, StanzaError, xml, XmlElement } from '@parley/protocol';
import type { StanzaEvent } from '../../core/events';
import type { MucService } from './service';

interface Pending {
  id: string;
  /** The requester's real full JID. */
  requester: string;
  /** The target's real full JID (only it may answer). */
  target: string;
  /** room/nick of the target, as the requester addressed it. */
  targetOccJid: string;
  timer: NodeJS.Timeout;
}

/** Forwarded requests per service, by the id the room gave them. */
const forwards = new WeakMap<MucService, Map<string, Pending>>();
let counter = 0;

export async function forwardIq(svc: MucService, event: StanzaEvent): Promise<void> {
  const { stanza, from, to } = event;
  const type = stanza.attrs.type;
  const room = svc.get(to);
  let pending = forwards.get(svc);
  if (!pending) forwards.set(svc, (pending = new Map()));
  if (type === 'result' || type === 'error') {
    const p = pending.get(stanza.attrs.id ?? '');
    if (!p || p.target !== from.toString()) return;
    pending.delete(p.id);
    clearTimeout(p.timer);
    const origId = p.id.slice(p.id.indexOf(':') + 1);
    await svc.send(new XmlElement('iq', { ...stanza.attrs, id: origId, from: p.targetOccJid, to: p.requester }, stanza.children));
    return;
  }
  if (type !== 'get' && type !== 'set') return;
  if (!room || room.locked) throw new StanzaError('item-not-found', 'no such room');
  const sender = room.byReal.get(from.toString());
  if (!sender) throw new StanzaError('not-acceptable', 'only occupants may send iqs to occupants');
  // XEP-0410 §3.3 server optimisation: a ping to one's own occupant JID is answered by the room itself —
  // result while this session is joined (not-acceptable above when it is not) — instead of travelling to one
  // of the occupant's devices, which may be asleep. A nick no longer held gives item-not-found below, which
  // §3.2 tells the client means "joined, but the nick changed".
  const payload = stanza.elements()[0];
  if (type === 'get' && sender.nick === to.resource && payload?.name === 'ping' && payload.attrs.xmlns === NS.PING && stanza.elements().length === 1) {
    await svc.send(xml('iq', { type: 'result', id: stanza.attrs.id, from: to.toString(), to: from.toString() }));
    return;
  }
  const target = room.occupants.get(to.resource!);
  if (!target) throw new StanzaError('item-not-found', 'no such occupant');
  const id = `muc${(++counter).toString(36)}:${stanza.attrs.id ?? ''}`;
  const timer = setTimeout(() => pending!.delete(id), 60_000);
  timer.unref();
  pending.set(id, { id, requester: from.toString(), target: target.jid.toString(), targetOccJid: room.occJid(target.nick), timer });
  await svc.send(new XmlElement('iq', { type, id, from: room.occJid(sender.nick), to: target.jid.toString() }, stanza.children));
}
