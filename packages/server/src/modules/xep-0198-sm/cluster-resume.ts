// XEP-0198 §5 across the nodes of a cluster (shared.ts keeps the records): a <resume/> for a session another node
// holds, or that a dead node left in storage, and the other side, handing a session of ours to the asking node.
import { Jid, NS, StreamError, parseXml, xml, type StanzaErrorCondition, type XmlElement } from '@parley/protocol';
import type { Cluster } from '../../cluster/types';
import type { AuthenticatedStream } from '../../core/client-stream';
import type { Disposable } from '../../core/hooks';
import type { Logger } from '../../log';
import type { Resumptions } from './resumption';
import { HAND_OVER, restorePortableState, type SharedResumptions, type StoredSession } from './shared';
import { SmState, checkAck, parseH } from './state';

/** What the module lends: its tables and the steps a local resumption takes too. */
export interface ClusterResume {
  log: Logger;
  cluster: Cluster;
  shared: SharedResumptions;
  resumptions: Resumptions;
  failed(condition: StanzaErrorCondition): XmlElement;
  resumed(sm: SmState): XmlElement;
  /** Enters a resumed session's state in the module's tables. */
  register(sm: SmState): void;
  takeOver(sm: SmState): void;
  resend(sm: SmState): void;
  end(sm: SmState): void;
  routeStoredAgain(stored: StoredSession): Promise<void>;
}

/**
 * §5 across nodes: the node holding the session hands it over (or it is gone and left its state in storage);
 * this stream binds the session's resource and goes on with its counters and unacknowledged stanzas.
 */
export async function resumeFromCluster(m: ClusterResume, el: XmlElement, stream: AuthenticatedStream): Promise<void> {
  const { cluster, shared } = m;
  const previd = el.attrs.previd!;
  const h = parseH(el.attrs.h)!;
  const account = stream.account.toString();
  const holder = await shared.locate(previd);
  if (holder === undefined) return stream.sendNonza(m.failed('item-not-found'));
  if (holder !== cluster.nodeId && cluster.isLive(holder)) {
    let handed = false;
    try {
      handed = (await cluster.ask(holder, HAND_OVER, { id: previd, account })) === true;
    } catch (err) {
      m.log.warn({ err, node: holder }, 'stream management: the node holding a session did not hand it over');
    }
    if (!handed) return stream.sendNonza(m.failed('item-not-found'));
  }
  const stored = await shared.take(holder, previd, account);
  if (!stored) return stream.sendNonza(m.failed('item-not-found'));
  shared.taken(holder, previd);
  // §4: acknowledging stanzas never sent ends the stream; the session ends too, its stanzas routed as at its end.
  if (checkAck(stored.acked, stored.unacked.length, h) === 'too-high') {
    void m.routeStoredAgain(stored);
    const sent = (stored.acked + stored.unacked.length) % 2 ** 32;
    return stream.close(
      new StreamError('undefined-condition', `You acknowledged ${h} stanzas, but only ${sent} were sent`, xml('handled-count-too-high', { xmlns: NS.SM, h: String(h), 'send-count': String(sent) })),
    );
  }
  const session = stream.bindResumed(Jid.parse(stored.jid));
  if (!session) {
    void m.routeStoredAgain(stored);
    return stream.sendNonza(m.failed('resource-constraint'));
  }
  // The client's presence goes on as it was: its contacts were never told it left.
  session.available = stored.available;
  session.priority = stored.priority;
  session.interested = stored.interested;
  session.presence = stored.presence === null ? undefined : parseXml(stored.presence);
  restorePortableState(session.state, stored.state);
  const sm = new SmState(session);
  sm.inbound = stored.inbound;
  sm.acked = stored.acked;
  for (const u of stored.unacked) sm.unacked.push({ stanza: parseXml(u.x), at: u.at });
  sm.ack(h);
  m.resumptions.adopt(sm, previd, stored.window);
  m.register(sm);
  session.sendNonza(m.resumed(sm));
  m.takeOver(sm);
  m.resend(sm);
  shared.persist(sm);
  m.log.info({ jid: stored.jid, from: holder }, 'stream management: resumed a session another node held');
}

/**
 * The other side of resumeFromCluster: a node asks for a session of ours. Its last state is written, then it ends
 * here without routing its stanzas anywhere (the asking node resends them) and without telling contacts or rooms
 * it went offline (it did not).
 */
export function answerHandOvers(m: ClusterResume): Disposable {
  return m.cluster.answer(HAND_OVER, async (payload) => {
    const { id, account } = (payload ?? {}) as { id?: unknown; account?: unknown };
    if (typeof id !== 'string' || typeof account !== 'string') return false;
    const sm = m.resumptions.lookup(id, account).found;
    if (!sm) return false;
    await m.shared.flush(sm);
    if (sm.ended) return false;
    // Synchronous from here: nothing is sent to the session between the last write and its end.
    sm.movedAway = true;
    m.end(sm);
    sm.stream.closeResumedElsewhere();
    return true;
  });
}
