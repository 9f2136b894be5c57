// XEP-0386 Bind 2: resource binding inside SASL2's <authenticate/> (XEP-0388), so a client is authenticated, bound
// and has its session features enabled in one round trip. The server picks the resource: the client's <tag/>
// followed by a part derived from its <user-agent id/>, so one installation always gets the same resource and a
// reconnect replaces its own stale session (RFC 6120 §7.7.2.2 conflict) instead of piling up resources.
// Session features requested inside <bind/> are modules' Bind 2 inline features (ctx.c2s.registerBind2Inline):
// carbons registers itself in xep-0280-carbons, stream management in xep-0198-sm.
import { createHash, randomBytes } from 'node:crypto';
import { Jid, JidError, NS, SaslFailure, xml, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { InlineOrder, type Sasl2Authenticated } from '../../core/sasl2-inline';

/** A tag is a short label of the client software (XEP-0386 §3), not a free-form text. */
const MAX_TAG = 64;
/** Hex digits of the part of the resource derived from the user-agent id: 32 bits tell one account's devices apart. */
const STABLE_DIGITS = 8;

export default defineModule({
  name: 'bind2',
  specs: [
    {
      spec: 'XEP-0386',
      version: '1.0.1',
      status: 'partial',
      note: 'resource from tag and user-agent id; inline features from modules (carbons, stream management); no MAM metadata in `<bound/>`',
    },
  ],
  setup(ctx) {
    const { sessions, inline } = ctx.server;

    /**
     * `<tag>.<8 hex digits>`: the digits come from the account and the user-agent id when the client sent one
     * (stable across connections), otherwise they are random and unused on the account.
     */
    function resourceFor(auth: Sasl2Authenticated, tag: string | undefined): string {
      const id = auth.userAgent?.id;
      const withTag = (part: string): string => (tag ? `${tag}.${part}` : part);
      if (id !== undefined) {
        return withTag(createHash('sha256').update(`${auth.username}\0${id}`).digest('hex').slice(0, STABLE_DIGITS));
      }
      const bare = auth.account.toString();
      let resource: string;
      do resource = withTag(randomBytes(STABLE_DIGITS / 2).toString('hex'));
      while (sessions.isResourceInUse(bare, resource));
      return resource;
    }

    function tagOf(bind: XmlElement): string | undefined {
      const tag = bind.getChildText('tag', NS.BIND2)?.trim();
      return tag === '' ? undefined : tag;
    }

    ctx.c2s.registerSasl2Inline({
      ns: NS.BIND2,
      order: InlineOrder.Bind,
      // §2: <bind/> in SASL2's <inline/>, listing the session features that can be enabled with it.
      advertise() {
        const features = inline.bind2Features();
        return xml(
          'bind',
          { xmlns: NS.BIND2 },
          features.length > 0 ? xml('inline', null, ...features.map((f) => xml('feature', { var: f.var }))) : null,
        );
      },
      // Malformed requests fail before authentication runs, so they never cost the client a bound session.
      prepare(elements) {
        if (elements.length === 0) return;
        if (elements.length > 1 || elements[0]!.name !== 'bind') {
          throw new SaslFailure('malformed-request', 'Bind 2 takes one <bind/> element');
        }
        const tag = tagOf(elements[0]!);
        if (tag === undefined) return;
        if (tag.length > MAX_TAG) throw new SaslFailure('malformed-request', `the Bind 2 tag is longer than ${MAX_TAG} characters`);
        try {
          Jid.of('check', 'localhost', `${tag}.0`);
        } catch (err) {
          if (err instanceof JidError) throw new SaslFailure('malformed-request', `the Bind 2 tag cannot be part of a resource: ${err.message}`);
          throw err;
        }
      },
      async negotiate(elements, auth) {
        // A session resumed during the same authentication (XEP-0198 inline) already has its resource.
        if (auth.bound) return undefined;
        const request = elements[0]!;
        auth.bind(resourceFor(auth, tagOf(request)));
        const bound = xml('bound', { xmlns: NS.BIND2 });
        // §4: the session features the client asked for, enabled before it can send or receive anything.
        const features = inline.bind2Features();
        for (const child of request.elements()) {
          const ns = child.attrs.xmlns;
          if (ns === undefined || ns === NS.BIND2) continue;
          const feature = features.find((f) => f.var === ns);
          if (!feature) continue; // not offered in our <inline/>: nothing to enable
          const result = await feature.enable(child, auth.session, auth);
          if (result) bound.append(...(Array.isArray(result) ? result : [result]));
        }
        return bound;
      },
    });
  },
});
