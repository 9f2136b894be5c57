// XEP-0280 Message Carbons: every resource that enables carbons sees both sides of its user's conversations:
// messages the user receives on other resources (<received/>, §7) and sends from them (<sent/>, §8).
// Copies go straight to the sessions, so they never pass the hooks again (and are never archived or re-copied).
import { NS, StanzaError, type Jid, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { Priority } from '../../core/hooks';
import type { StanzaEvent } from '../../core/events';
import type { IqRequest } from '../../core/iq';
import type { Session } from '../../core/sessions';
import { carbonWrappers, forwardable, isEligible, wrapCarbon, type Direction } from './rules';

export default defineModule({
  name: 'carbons',
  specs: [
    {
      spec: 'XEP-0280',
      version: '1.0.1',
      status: 'complete',
      note: 'errors are not copied (§6 optional rule); MUC private messages are not limited to multi-session nicks',
    },
  ],
  setup(ctx) {
    const { sessions } = ctx.server;
    const isEnabled = (s: Session): boolean => s.state.get(ctx.name) === true;

    // §3: the server advertises carbons; accounts get the feature from the iq registration below.
    ctx.disco.host.features.add(NS.CARBONS);
    ctx.onStop(() => {
      ctx.disco.host.features.delete(NS.CARBONS);
    });

    /** §4 / §5: only a client of ours toggles carbons, for its own session only. */
    function toggle(enabled: boolean) {
      return (req: IqRequest): void => {
        if (!req.session || !req.isSelf) throw new StanzaError('not-allowed', 'Carbons are toggled by a client for its own session');
        // §10.1: enabling twice (or disabling when off) is a no-op that still succeeds.
        if (enabled) req.session.state.set(ctx.name, true);
        else req.session.state.delete(ctx.name);
      };
    }
    ctx.iq.set(NS.CARBONS, 'enable', { to: ['bare'] }, toggle(true));
    ctx.iq.set(NS.CARBONS, 'disable', { to: ['bare'] }, toggle(false));

    // XEP-0386 (Bind 2): <enable xmlns='urn:xmpp:carbons:2'/> inside <bind/> enables carbons for the new session as
    // the §4 iq would, before it can receive anything (no copy can slip between binding and enabling). Nothing goes
    // into <bound/>: the iq's result has no payload either.
    ctx.c2s.registerBind2Inline({
      var: NS.CARBONS,
      enable(request, session) {
        if (request.name === 'enable') session.state.set(ctx.name, true);
      },
    });

    function sendCopies(direction: Direction, stanza: XmlElement, owner: Jid, targets: Session[]): void {
      if (targets.length === 0) return;
      const bare = owner.toBareString();
      const forwarded = forwardable(stanza);
      for (const s of targets) s.send(wrapCarbon(direction, forwarded, bare, s.jid.toString()));
    }

    // §11: a carbon is only ever from the user's own bare JID, which only this server can send as. Wrappers from
    // anyone else (another user, or a client of the user's own) are removed before any feature or client sees
    // them; a message that was nothing but a forged carbon is dropped.
    function rejectForgedCarbons({ stanza, from, to, origin }: StanzaEvent): boolean {
      if (to.local === undefined) return false;
      const wrappers = carbonWrappers(stanza);
      if (wrappers.length === 0) return false;
      if (from.isBare && from.bareEquals(to) && origin.kind !== 'c2s') return false;
      ctx.log.debug({ from: from.toString(), to: to.toString() }, 'removing carbons not sent by the account');
      stanza.children = stanza.children.filter((c) => typeof c === 'string' || !wrappers.includes(c));
      return stanza.elements().length === 0;
    }
    ctx.on('message/bare', rejectForgedCarbons, Priority.Filter);
    ctx.on('message/full', rejectForgedCarbons, Priority.Filter);

    // The routing module hands a message for a resource that is gone on to 'message/bare' as the same stanza
    // object (as in XEP-0313's archiving): copies are decided once per stanza.
    const copied = new WeakSet<XmlElement>();

    /**
     * §7: a copy to each enabled resource that does not get the original under RFC 6121 delivery. Who gets the
     * original follows the routing module's rules, read from the session table just before it delivers (nothing
     * between Priority.Carbons and Priority.Deliver takes messages); copies and original go to different
     * streams, so which is written first is not observable.
     */
    function inbound(target: 'bare' | 'full') {
      return ({ stanza, to, origin }: StanzaEvent): boolean => {
        if (to.local === undefined || copied.has(stanza) || !isEligible(stanza, 'received')) return false;
        const all = sessions.ofAccount(to.toBareString());
        if (all.length === 0) return false;
        let original: Session[];
        if (target === 'full') {
          const s = sessions.get(to);
          // RFC 6121 §8.5.3.2.1: no such resource; routing re-fires 'message/bare', where copies are decided.
          if (!s) return false;
          original = [s];
        } else original = sessions.highestPriority(to.toBareString()); // the routing module's choice (RFC 6121 §8.5.2.1.1)
        copied.add(stanza);
        // Between resources of one account the sender already has the message (and §8 copies are skipped).
        const sender = origin.kind === 'c2s' ? origin.session : undefined;
        sendCopies(
          'received',
          stanza,
          to,
          all.filter((s) => isEnabled(s) && s !== sender && !original.includes(s)),
        );
        return false;
      };
    }
    ctx.on('message/bare', inbound('bare'), Priority.Carbons);
    ctx.on('message/full', inbound('full'), Priority.Carbons);

    /** §8: a message a client sends is copied to the user's other enabled resources. */
    function outbound({ stanza, from, to, origin }: StanzaEvent): boolean {
      if (origin.kind !== 'c2s' || !isEligible(stanza, 'sent')) return false;
      // A message to one's own account arrives as a <received/> copy on the other resources instead (§7).
      if (to.local !== undefined && to.bareEquals(from)) return false;
      const sender = origin.session;
      sendCopies(
        'sent',
        stanza,
        from,
        sessions.ofAccount(from.toBareString()).filter((s) => s !== sender && isEnabled(s)),
      );
      return false;
    }
    for (const target of ['bare', 'full', 'remote', 'host'] as const) ctx.on(`pre-message/${target}`, outbound, Priority.Carbons);
  },
});
