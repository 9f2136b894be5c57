// XEP-0049 Private XML Storage: arbitrary XML fragments a user keeps on the server (client preferences,
// XEP-0048 bookmarks), one per root element name and namespace, readable and writable by the owner only.
import { NS, StanzaError, parseXml, xml, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import type { IqRequest } from '../../core/iq';

/**
 * §2.3: namespaces reserved in Jabber, which a server may refuse with not-acceptable. A fragment
 * without a namespace of its own inherits jabber:iq:private and lands here too.
 */
function isReserved(ns: string): boolean {
  return ns.startsWith('jabber:') || ns.startsWith('http://jabber.org/') || ns === NS.VCARD;
}

/** The store key of a fragment: its root element's name and namespace (a name cannot contain a space). */
function keyOf(el: XmlElement, ns: string): string {
  return `${el.name} ${ns}`;
}

/** The namespace of a child of <query xmlns='jabber:iq:private'/>: declared on it, or inherited. */
function nsOf(el: XmlElement): string {
  return el.attrs.xmlns ?? NS.PRIVATE;
}

export default defineModule({
  name: 'private',
  specs: [{ spec: 'XEP-0049', version: '1.2', status: 'complete' }],
  setup(ctx) {
    const store = ctx.map<string>('private');

    /** §3: "Forbidden: the IQ get or set is sent to a JID other than that of the sender". */
    function requireOwner(req: IqRequest): void {
      if (!req.isSelf) throw new StanzaError('forbidden');
    }

    /** Every child element with a usable namespace, or not-acceptable (§2.3: reserved or missing namespace). */
    function fragments(req: IqRequest): { el: XmlElement; ns: string }[] {
      const out = req.payload.elements().map((el) => ({ el, ns: nsOf(el) }));
      const bad = out.find((f) => isReserved(f.ns));
      if (bad) throw new StanzaError('not-acceptable', `namespace '${bad.ns}' is reserved`);
      return out;
    }

    ctx.iq.get(NS.PRIVATE, 'query', { to: ['bare'] }, async (req) => {
      requireOwner(req);
      const children = fragments(req);
      // §2.3: a get without a child SHOULD be "Bad Format" (bad-request); a client MUST NOT ask for more than one.
      if (children.length !== 1) throw new StanzaError('bad-request', 'exactly one child element is required');
      const { el, ns } = children[0]!;
      const raw = await store.get(req.to.toBareString(), keyOf(el, ns));
      // §2.3: with nothing stored, the result carries the requested element back, empty.
      return xml('query', { xmlns: NS.PRIVATE }, raw !== undefined ? parseXml(raw) : xml(el.name, { xmlns: ns }));
    });

    ctx.iq.set(NS.PRIVATE, 'query', { to: ['bare'] }, async (req) => {
      requireOwner(req);
      const children = fragments(req);
      // §2.3: "at least one child element with a proper namespace MUST be included; otherwise … Not Acceptable".
      if (children.length === 0) throw new StanzaError('not-acceptable', 'nothing to store');
      const owner = req.to.toBareString();
      // Validated above as a whole, so a set with one bad fragment stores none of them.
      for (const { el, ns } of children) {
        const copy = el.clone();
        copy.attrs.xmlns = ns;
        await store.set(owner, keyOf(el, ns), copy.toString());
      }
      return null;
    });

    ctx.on('account/deleted', async ({ jid }) => {
      await store.deleteAll(jid.toBareString());
    });
  },
});
