// XEP-0054 vcard-temp: each account's vCard, stored as the raw XML the owner set and readable by anyone
// (§5: vCards are world-readable), plus XEP-0153 avatar hashes added to the owner's presence broadcasts.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { NS, StanzaError, parseXml, xml, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { Priority } from '../../core/hooks';

const options = z.strictObject({
  max_size: z
    .int()
    .min(1024)
    .default(128 * 1024)
    .describe('Largest vCard a user may store, in bytes of XML (avatars included); larger sets get not-acceptable'),
});

export default defineModule({
  name: 'vcard',
  specs: [
    { spec: 'XEP-0054', version: '1.2', status: 'complete' },
    { spec: 'XEP-0153', version: '1.1', status: 'complete', note: 'the server adds the photo hash to presence broadcasts' },
  ],
  options,
  setup(ctx) {
    const { server } = ctx;
    const store = ctx.keyval<string>('vcard');
    /** Avatar hash per online account: a hash, '' for a vCard without photo data, null for no vCard at all. */
    const hashes = new Map<string, string | null>();
    // Another cluster node stored a new vCard: the hash it derived from it is re-read here on next use.
    server.cluster.onInvalidate('vcard', (owner) => hashes.delete(owner));

    async function load(owner: string): Promise<XmlElement | undefined> {
      const raw = await store.get(owner);
      if (raw === undefined) return undefined;
      try {
        return parseXml(raw);
      } catch (err) {
        ctx.log.error({ err, owner }, 'stored vCard does not parse');
        return undefined;
      }
    }

    ctx.iq.get(NS.VCARD, 'vCard', { to: ['bare'] }, async (req) => {
      // §3.3: the server answers for the account; an unknown account gets service-unavailable.
      if (!req.isSelf && !(await server.accounts.exists(req.to.local!))) throw new StanzaError('service-unavailable');
      const vcard = await load(req.to.toBareString());
      if (vcard) return vcard;
      // §3.1: for one's own vCard, "none yet" is an empty <vCard/>; §3.3: for someone else's the server MUST
      // return an error, item-not-found being one of the two it suggests.
      if (req.isSelf) return xml('vCard', { xmlns: NS.VCARD });
      throw new StanzaError('item-not-found');
    });

    ctx.iq.set(NS.VCARD, 'vCard', { to: ['bare'] }, async (req) => {
      // §3.2: setting another user's vCard SHOULD be forbidden or not-allowed.
      if (!req.isSelf) throw new StanzaError('forbidden');
      const vcard = req.payload.clone();
      vcard.attrs.xmlns = NS.VCARD; // stored standalone, the namespace must be on the element itself
      const raw = vcard.toString();
      if (Buffer.byteLength(raw) > ctx.options.max_size) {
        throw new StanzaError('not-acceptable', `the vCard exceeds ${ctx.options.max_size} bytes`);
      }
      const owner = req.to.toBareString();
      await store.set(owner, raw);
      server.cluster.invalidate('vcard', owner);
      if (server.sessions.hasAccount(owner)) hashes.set(owner, avatarHash(vcard));
      return null;
    });

    async function hashOf(owner: string): Promise<string | null> {
      let hash = hashes.get(owner);
      if (hash === undefined) {
        const vcard = await load(owner);
        hash = vcard ? avatarHash(vcard) : null;
        // Only kept while the account is online: the session/closed handler below drops it.
        if (server.sessions.hasAccount(owner)) hashes.set(owner, hash);
      }
      return hash;
    }

    // XEP-0153 §3.1 / §4.1: presence broadcasts carry <x xmlns='vcard-temp:x:update'><photo>sha1</photo></x>.
    // Added here, above Priority.Feature where the roster module broadcasts, so every contact sees it even
    // when the client does not implement XEP-0153.
    ctx.on(
      'pre-presence/broadcast',
      async ({ stanza, from }) => {
        if (stanza.attrs.type !== undefined) return; // only available presence; unavailable has no avatar
        const existing = stanza.getChild('x', NS.VCARD_UPDATE);
        // A client that states a photo (a hash, or empty for "no avatar") follows §4.2–§4.4 itself; an update element
        // without photo means "not ready to advertise" (§4.1 rule 2), which the server can complete.
        if (existing?.getChild('photo')) return;
        const hash = await hashOf(from.toBareString());
        if (hash === null) return; // no vCard stored: nothing the server can vouch for
        if (existing) stanza.children.splice(stanza.children.indexOf(existing), 1);
        stanza.append(xml('x', { xmlns: NS.VCARD_UPDATE }, xml('photo', null, hash || null)));
      },
      Priority.Feature + 10,
    );

    ctx.on('session/closed', ({ session }) => {
      const owner = session.jid.toBareString();
      if (!server.sessions.hasAccount(owner)) hashes.delete(owner);
    });

    ctx.on('account/deleted', async ({ jid }) => {
      hashes.delete(jid.toBareString());
      await store.set(jid.toBareString(), undefined);
    });
  },
});

/**
 * XEP-0153 §3.1: the SHA-1 of the image bytes (not of the base64 text), lowercase hex; §4.6 rule 5: whitespace
 * in BINVAL is ignored. '' when there is no photo data (§4.4: advertise an empty photo element).
 */
export function avatarHash(vcard: XmlElement): string {
  const binval = vcard.getChild('PHOTO')?.getChildText('BINVAL')?.replace(/\s+/g, '') ?? '';
  if (binval === '') return '';
  return createHash('sha1').update(Buffer.from(binval, 'base64')).digest('hex');
}
