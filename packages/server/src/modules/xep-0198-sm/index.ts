// XEP-0198 Stream Management on client streams: acknowledgements both ways (§4) and resumption of a session whose
// connection dropped (§5). The stream core only detaches a session from a lost transport and re-attaches it to a
// new one (stream/resumption.ts); what is counted, kept, resent and finally routed elsewhere is decided here.
//
// What an acknowledgement promises. §4: <a h='n'/> tells the client that we have "handled" its first n stanzas,
// so it drops them from its own resend queue. Here "handled" means: each was processed to the end (routed and
// written to the recipient's connection, or stored offline — XEP-0160 awaits its write), and every storage write
// those stanzas caused has committed, including the message archive's (XEP-0313 rows of sender and recipient),
// which delivery does not wait for. So <a/> is sent only after ctx.storageSettled(): a server killed with SIGKILL
// after the client read <a h='n'/> still has those n messages in the offline store and in both archives.
// (A copy written to the recipient's socket but unacknowledged by the recipient is in memory only, as in any
// server; the recipient's archive keeps it.) <resumed h/> acknowledges too and waits the same way.
import type { z } from 'zod';
import { NS, StreamError, xml, type StanzaErrorCondition, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { Priority } from '../../core/hooks';
import { InlineOrder } from '../../core/sasl2-inline';
import type { AuthenticatedStream, ClientStream } from '../../core/client-stream';
import type { Session } from '../../core/sessions';
import { SmState, incrementH, parseH, type Unacked } from './state';
import { isRoutedAgain, resendable, routeStoredAgain } from './unacked';
import { options, type SmOptions } from './options';
import { Resumptions } from './resumption';
import { SharedResumptions, type StoredSession } from './shared';
import { answerHandOvers, resumeFromCluster } from './cluster-resume';


export default defineModule<SmOptions>({
  name: 'sm',
  specs: [
    {
      spec: 'XEP-0198',
      version: '1.6.3',
      status: 'complete',
      note: "client streams, also inline in SASL2 and Bind 2; a second `<enable/>` gets `<failed/>` (as in Prosody and ejabberd); no 'location'",
    },
  ],
  options: options as unknown as z.ZodType<SmOptions>,
  setup(ctx) {
    const opts = ctx.options;
    const { sessions, router, domain } = ctx.server;
    // Kept beside the session rather than in session.state: reading that allocates it for every session a stanza
    // is sent to, and most sessions never enable stream management.
    const states = new WeakMap<Session, SmState>();
    const resumptions = new Resumptions(
      { maxHibernating: opts.max_hibernating, maxHibernatingPerAccount: opts.max_hibernating_per_account },
      (sm) => {
        ctx.log.debug({ jid: sm.stream.jid.toString() }, 'stream management: a hibernating session ends');
        // A session already gone without 'session/closed' (replaced by a bind) ends here too.
        sm.stream.close();
        end(sm);
      },
    );
    /** Sessions with stream management by full JID: a bind that replaces one ends its stream management too. */
    const byJid = new Map<string, SmState>();
    /** Messages sent to a bare JID, by the sessions they went to (RFC 6121 §8.5.2.1.1 may pick several). */
    const recipients = new WeakMap<XmlElement, Session[]>();
    const rerouting = new Set<Promise<void>>();
    const { cluster } = ctx.server;
    // In a cluster, resumable sessions are kept in the shared storage too, for any node to resume (shared.ts).
    const shared = cluster.enabled
      ? new SharedResumptions({
          cluster,
          sessions: ctx.map<StoredSession>('sm_sessions'),
          locations: ctx.keyval<string>('sm_locations'),
          exclusive: (scope, owner, fn) => ctx.exclusive(scope, owner, fn),
          log: ctx.log,
          routeAgain: (stored) => routeStoredAgain(router, stored),
        })
      : undefined;

    const failed = (condition: StanzaErrorCondition, h?: number): XmlElement =>
      xml('failed', { xmlns: NS.SM, h: h === undefined ? undefined : String(h) }, xml(condition, { xmlns: NS.STANZAS }));

    const tooHigh = (h: number, sm: SmState): StreamError =>
      new StreamError(
        'undefined-condition',
        `You acknowledged ${h} stanzas, but only ${sm.sent} were sent`,
        xml('handled-count-too-high', { xmlns: NS.SM, h: String(h), 'send-count': String(sm.sent) }),
      );

    // §2: offered once the client authenticated (the hook only runs for authenticated streams).
    ctx.on('stream/features', ({ session, features }) => {
      if (!states.has(session)) features.push(xml('sm', { xmlns: NS.SM }));
    });

    ctx.c2s.registerStreamElement(NS.SM, (el, stream) => {
      const sm = states.get(stream);
      switch (el.name) {
        case 'enable':
          return enable(el, stream, sm);
        case 'resume':
          // §5: a session is resumed instead of binding a resource, never on a stream that has one.
          return stream.sendNonza(failed('unexpected-request'));
        case 'r': {
          if (!sm) return notEnabled(stream, el);
          // §4: answered with the count of stanzas handled so far; processing is in order, so that is all the client
          // sent before this <r/>. Sent once their writes are durable (see the top of this file); the stream reads
          // on meanwhile, and answers leave in order because storageSettled() resolves in call order.
          const h = sm.inbound;
          ctx.storageSettled().then(
            () => {
              if (!sm.ended) stream.sendNonza(xml('a', { xmlns: NS.SM, h: String(h) }));
            },
            (err: unknown) => ctx.log.error({ err }, 'stream management: storage did not settle; <a/> not sent'),
          );
          return requestAckWhenDue(sm);
        }
        case 'a':
          if (!sm) return notEnabled(stream, el);
          return acknowledged(el, sm);
        default:
          return stream.close(new StreamError('unsupported-stanza-type', `<${el.name}/> is not a stream management request`));
      }
    });

    ctx.c2s.registerPreBindElement(NS.SM, (el, stream) => {
      if (el.name === 'resume') return resume(el, stream).then(() => true);
      // §3: the server enforces that a client binds a resource before enabling stream management.
      if (el.name === 'enable') {
        stream.sendNonza(failed('unexpected-request'));
        return true;
      }
      return false;
    });

    function notEnabled(stream: ClientStream, el: XmlElement): void {
      stream.close(new StreamError('unsupported-stanza-type', `<${el.name}/> before stream management was enabled`));
    }

    // §3: enable once per stream; the counters start at zero with <enable/> and <enabled/>.
    function enable(el: XmlElement, stream: ClientStream, existing: SmState | undefined): void {
      // §3 says a second <enable/> SHOULD be a stream error; like Prosody and ejabberd, <failed/> keeps the stream.
      if (existing) return stream.sendNonza(failed('unexpected-request'));
      const sm = start(el, stream);
      byJid.set(stream.jid.toString(), sm);
      stream.sendNonza(sm.enabled());
    }

    /** Stream management for `stream` from now on; returns its <enabled/>. */
    function start(el: XmlElement, stream: ClientStream): SmState {
      const sm = new SmState(stream);
      const resume = el.attrs.resume === 'true' || el.attrs.resume === '1';
      if (resume && opts.resume_timeout_s > 0) {
        // §3: the client's 'max' is a preference; ours is the upper bound.
        const max = parseH(el.attrs.max);
        resumptions.add(sm, max !== undefined && max > 0 ? Math.min(max, opts.resume_timeout_s) : opts.resume_timeout_s);
      }
      states.set(stream, sm);
      shared?.persist(sm);
      return sm;
    }

    // XEP-0198 with XEP-0386: <enable/> inside Bind 2's <bind/>, <enabled/> inside <bound/>. The session enters the
    // table when <success/> is written, so nothing is sent to it (or counted) before the client has <enabled/>.
    ctx.c2s.registerBind2Inline({
      var: NS.SM,
      enable(request, session) {
        if (request.name !== 'enable' || !isClientStream(session)) return failed('bad-request');
        if (states.has(session)) return failed('unexpected-request');
        return start(request, session).enabled();
      },
    });

    function acknowledged(el: XmlElement, sm: SmState): void {
      const h = parseH(el.attrs.h);
      if (h === undefined) return sm.stream.close(new StreamError('invalid-xml', "<a/> needs an 'h' that is an unsignedInt"));
      // §4: acknowledging stanzas that were never sent is a stream error.
      if (sm.ack(h) === 'too-high') return sm.stream.close(tooHigh(h, sm));
      shared?.persist(sm);
      sm.awaitingAck = false;
      requestAckWhenDue(sm);
    }

    function requestAckWhenDue(sm: SmState, now = false): void {
      if (sm.awaitingAck || sm.requestScheduled || sm.unacked.length < (now ? 1 : opts.request_ack_every)) return;
      if (sm.requestedAt === sm.sent) return;
      sm.requestScheduled = true;
      // Once the stanzas of this tick are written: one request after a burst, not one per stanza.
      setImmediate(() => {
        sm.requestScheduled = false;
        if (sm.ended || sm.awaitingAck || sm.stream.isDetached || sm.unacked.length === 0) return;
        sm.awaitingAck = true;
        sm.requestedAt = sm.sent;
        sm.stream.sendNonza(xml('r', { xmlns: NS.SM }));
      });
    }

    ctx.on(
      'session/received',
      ({ session }) => {
        const sm = states.get(session);
        if (!sm) return;
        sm.inbound = incrementH(sm.inbound);
        shared?.persist(sm);
      },
      Priority.Filter,
    );

    // Synchronous, and first: the queue must be in the order the stanzas are written.
    ctx.on(
      'session/sending',
      ({ session, stanza }) => {
        const to = stanza.attrs.to;
        if (stanza.name === 'message' && to !== undefined && !to.includes('/')) {
          const list = recipients.get(stanza);
          if (list) list.push(session);
          else recipients.set(stanza, [session]);
        }
        const sm = states.get(session);
        if (!sm || sm.ended || !isStanza(stanza)) return;
        sm.unacked.push({ stanza, at: Date.now() });
        shared?.persist(sm);
        if (sm.unacked.length > opts.max_unacked) {
          // Not from inside send(): the stanza being sent is queued already and goes with the others.
          queueMicrotask(() => sm.stream.close(new StreamError('resource-constraint', 'Too many unacknowledged stanzas')));
        } else if (!sm.stream.isDetached) requestAckWhenDue(sm);
      },
      Priority.Filter,
    );

    // §5: a resumable session whose connection dropped waits for the client to come back.
    ctx.on(
      'session/interrupted',
      ({ session }) => {
        const sm = states.get(session);
        if (!sm || sm.ended || sm.id === undefined) return false;
        sm.awaitingAck = false;
        resumptions.hibernate(sm);
        shared?.persist(sm);
        return true;
      },
      Priority.Filter,
    );

    async function resume(el: XmlElement, stream: AuthenticatedStream): Promise<void> {
      // <resumed h/> acknowledges what the old connection sent (see the top of this file).
      await ctx.storageSettled();
      const previd = el.attrs.previd;
      // Neither hibernating here nor ended here: in a cluster, another node (or this node's previous process) may hold it.
      if (shared && previd !== undefined && parseH(el.attrs.h) !== undefined) {
        const here = resumptions.lookup(previd, stream.account.toString());
        if (!here.found && here.h === undefined) return resumeFromCluster(clusterResume!, el, stream);
      }
      const found = resumptionOf(el, stream.account.toString());
      if (found instanceof StreamError) return stream.close(found);
      if (!(found instanceof SmState)) return stream.sendNonza(found);
      if (!stream.handOver(found.stream)) return stream.sendNonza(failed('item-not-found'));
      found.stream.sendNonza(resumed(found));
      takeOver(found);
      resend(found);
    }

    /** §5: the session a <resume/> asks for, a <failed/> to answer with, or the stream error of §4 for a bad 'h'. */
    function resumptionOf(el: XmlElement, account: string): SmState | XmlElement | StreamError {
      const previd = el.attrs.previd;
      const h = parseH(el.attrs.h);
      if (!previd || h === undefined) return failed('bad-request');
      const lookup = resumptions.lookup(previd, account);
      if (!lookup.found) return failed('item-not-found', lookup.h);
      const sm = lookup.found;
      if (sm.check(h) === 'too-high') return tooHigh(h, sm);
      sm.ack(h);
      return sm;
    }

    const resumed = (sm: SmState): XmlElement => xml('resumed', { xmlns: NS.SM, previd: sm.id, h: String(sm.inbound) });

    const clusterResume = shared
      ? {
          log: ctx.log,
          cluster,
          shared,
          resumptions,
          failed,
          resumed,
          register: (sm: SmState) => {
            states.set(sm.stream, sm);
            byJid.set(sm.stream.jid.toString(), sm);
          },
          takeOver,
          resend,
          end,
          routeStoredAgain: (stored: StoredSession) => routeStoredAgain(router, stored),
        }
      : undefined;
    if (clusterResume) {
      const answering = answerHandOvers(clusterResume);
      ctx.onStop(() => answering.dispose());
    }

    /** The session goes on over the client's new stream: it waits no longer. */
    function takeOver(sm: SmState): void {
      resumptions.wake(sm);
      sm.awaitingAck = false;
      sm.requestedAt = undefined; // what was asked on the old connection may never have arrived
    }

    /** §5: what the client did not acknowledge is sent again, in order, under the same sequence numbers. */
    function resend(sm: SmState): void {
      for (const u of sm.unacked) sm.stream.resend(resendable(u, domain));
      requestAckWhenDue(sm, true);
    }

    // XEP-0198 with XEP-0388: <resume/> inside SASL2's <authenticate/>, <resumed/> or <failed/> inside <success/>.
    // It runs before Bind 2 (InlineOrder.Resume): a resumed session needs no resource, and after a failed
    // resumption the client's <bind/> in the same request still gives it a new session.
    ctx.c2s.registerSasl2Inline({
      ns: NS.SM,
      order: InlineOrder.Resume,
      advertise: () => (opts.resume_timeout_s > 0 ? xml('sm', { xmlns: NS.SM }) : undefined),
      async negotiate(elements, auth) {
        if (elements.length !== 1 || elements[0]!.name !== 'resume') return failed('bad-request');
        // <resumed h/> acknowledges what the old connection sent (see the top of this file).
        await ctx.storageSettled();
        const found = resumptionOf(elements[0]!, auth.account.toString());
        // The stream error of §4 would end the authentication that just succeeded; the session is not resumed.
        if (found instanceof StreamError) return failed('undefined-condition');
        if (!(found instanceof SmState)) return found;
        // Taken over once the stream hands its transport to the session, after <success/>: if the client is gone
        // before that, the session keeps waiting for it.
        auth.resume(found.stream, () => {
          takeOver(found);
          resend(found);
        });
        return resumed(found);
      },
    });

    ctx.on(
      'session/closed',
      ({ session }) => {
        const sm = states.get(session);
        if (sm) end(sm);
      },
      Priority.Filter,
    );

    // RFC 6120 §7.7.2.2: a bind to the full JID of a session replaces it without 'session/closed' for the old one;
    // its unacknowledged stanzas are routed once the new session holds the JID.
    ctx.on(
      'session/bound',
      ({ session }) => {
        const jid = session.jid.toString();
        const previous = byJid.get(jid);
        if (previous && previous.stream !== session) end(previous);
        const sm = states.get(session); // enabled inside Bind 2
        if (sm) byJid.set(jid, sm);
      },
      Priority.Filter,
    );

    function end(sm: SmState): void {
      if (sm.ended) return;
      sm.ended = true;
      resumptions.forget(sm);
      const session = sm.stream;
      states.delete(session);
      if (byJid.get(session.jid.toString()) === sm) byJid.delete(session.jid.toString());
      if (sm.movedAway) {
        shared?.release(sm);
        return;
      }
      if (shared) {
        // Awaited at shutdown like the rerouting below, before storage closes.
        const forgotten: Promise<void> = shared.forget(sm).finally(() => rerouting.delete(forgotten));
        rerouting.add(forgotten);
      }
      const unacked = sm.unacked.splice(0);
      if (unacked.length === 0) return;
      const done = routeAgain(session, unacked)
        .catch((err: unknown) => ctx.log.error({ err }, 'stream management: routing unacknowledged stanzas failed'))
        .finally(() => rerouting.delete(done));
      rerouting.add(done);
    }

    // One after another: offline storage keeps them in the order they were sent.
    async function routeAgain(session: Session, unacked: Unacked[]): Promise<void> {
      for (const { stanza } of unacked) {
        const elsewhere = recipients.get(stanza)?.some((s) => s !== session && sessions.get(s.jid) === s) ?? false;
        if (isRoutedAgain(stanza, session.jid, elsewhere)) await router.route(stanza, { kind: 'local' });
      }
    }

    ctx.onStop(async () => {
      resumptions.stop();
      await shared?.stop();
      // Sessions closed by the shutdown route their unacknowledged stanzas before storage closes.
      await Promise.allSettled([...rerouting]);
    });
  },
});

function isClientStream(session: Session): session is ClientStream {
  return 'sendNonza' in session && 'resend' in session;
}

function isStanza(el: XmlElement): boolean {
  return el.name === 'message' || el.name === 'presence' || el.name === 'iq';
}
