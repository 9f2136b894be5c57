// XEP-0398 User Avatar to vCard-Based Avatars Conversion: a user's avatar is one avatar whichever way a client
// sets it. When a client publishes XEP-0084 avatar metadata to its PEP service, the server copies the image into
// the user's vCard (XEP-0054 PHOTO, so XEP-0153 clients and the presence hash see it); when a client stores a
// vCard with a PHOTO, the server publishes it as XEP-0084 data and metadata. An empty <metadata/> (avatar
// disabled) removes the PHOTO.
// The PEP and vCard modules are not touched: this module watches their requests from clients (pre-iq hooks),
// waits for their success (the result to the client) and then speaks to them as the user would, through the
// router, with iqs from the user's bare JID whose results it takes back (the server's own traffic, origin
// 'local', never triggers a conversion: no loops).
import { createHash } from 'node:crypto';
import { NS, xml, XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { Priority } from '../../core/hooks';
import type { StanzaEvent } from '../../core/events';

/** §3: what the client's request will cause once it succeeds. */
type Conversion = { kind: 'pep-to-vcard'; bare: string; metadata: XmlElement } | { kind: 'vcard-to-pep'; bare: string; vcard: XmlElement };

const REQUEST_TIMEOUT_MS = 10_000;
const ID_PREFIX = 'avatar-conversion-';
/** Client requests awaiting their result at once, at most (the oldest is forgotten first). */
const MAX_PENDING = 10_000;

export default defineModule({
  name: 'avatar-conversion',
  specs: [{ spec: 'XEP-0398', version: '0.3.1', status: 'complete', note: 'PEP (XEP-0084) ⇄ vCard (XEP-0054/0153) avatars, both ways' }],
  setup(ctx) {
    const { server } = ctx;
    // §2: the service advertises the conversion on the account.
    ctx.disco.account.features.add(NS.AVATAR_CONVERSION);
    ctx.onStop(() => {
      ctx.disco.account.features.delete(NS.AVATAR_CONVERSION);
    });

    /** Client requests (full JID + iq id) whose success starts a conversion. */
    const pending = new Map<string, Conversion>();
    /** Our own requests to the PEP and vCard modules, by iq id. */
    const waiting = new Map<string, (reply: XmlElement) => void>();
    let counter = 0;

    /** Sends an iq as the user (from and to its bare JID) and resolves with the result or error. */
    function asUser(bare: string, type: 'get' | 'set', payload: XmlElement): Promise<XmlElement> {
      const id = `${ID_PREFIX}${(++counter).toString(36)}`;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`no answer to ${payload.name} ${payload.attrs.xmlns}`));
        }, REQUEST_TIMEOUT_MS);
        timer.unref();
        waiting.set(id, (reply) => {
          clearTimeout(timer);
          resolve(reply);
        });
        server.send(xml('iq', { type, id, from: bare, to: bare }, payload)).catch((err) => {
          clearTimeout(timer);
          waiting.delete(id);
          reject(err);
        });
      });
    }

    // The answers to our requests come back to the user's bare JID: taken here, before anything else sees them.
    ctx.on(
      'iq/bare',
      ({ stanza }) => {
        const id = stanza.attrs.id;
        if ((stanza.attrs.type !== 'result' && stanza.attrs.type !== 'error') || id === undefined || !id.startsWith(ID_PREFIX)) return false;
        const done = waiting.get(id);
        if (!done) return false;
        waiting.delete(id);
        done(stanza);
        return true;
      },
      Priority.Filter,
    );

    // Requests from the user's clients to their own account that change an avatar.
    ctx.on(
      'pre-iq/bare',
      ({ stanza, from, to, origin }: StanzaEvent) => {
        if (origin.kind !== 'c2s' || stanza.attrs.type !== 'set' || !to.bareEquals(from) || stanza.attrs.id === undefined) return false;
        const conversion = conversionOf(stanza, from.toBareString());
        if (!conversion) return false;
        // A reply that never comes (the request went to another cluster node) must not pile up entries.
        if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value!);
        pending.set(`${from.toString()}|${stanza.attrs.id}`, conversion);
        return false;
      },
      Priority.Filter,
    );

    // The request succeeded (its result goes to the client): convert. An error drops it.
    ctx.on(
      'iq/full',
      ({ stanza, to }: StanzaEvent) => {
        const type = stanza.attrs.type;
        if (pending.size === 0 || (type !== 'result' && type !== 'error')) return false;
        const key = `${to.toString()}|${stanza.attrs.id}`;
        const conversion = pending.get(key);
        if (!conversion) return false;
        pending.delete(key);
        if (type === 'result') {
          void convert(conversion).catch((err) => ctx.log.warn({ err, user: conversion.bare }, 'avatar conversion failed'));
        }
        return false;
      },
      Priority.Filter,
    );

    async function convert(c: Conversion): Promise<void> {
      if (c.kind === 'pep-to-vcard') await pepToVcard(c.bare, c.metadata);
      else await vcardToPep(c.bare, c.vcard);
    }

    /** §3.1: the metadata names the image (by SHA-1 id); its data node has the bytes; the vCard gets them. */
    async function pepToVcard(bare: string, metadata: XmlElement): Promise<void> {
      const info = metadata.getChildren('info').find((i) => i.attrs.url === undefined && i.attrs.id !== undefined);
      let photo: XmlElement | undefined;
      if (info) {
        const items = await asUser(
          bare,
          'get',
          xml('pubsub', { xmlns: NS.PUBSUB }, xml('items', { node: NS.AVATAR_DATA }, xml('item', { id: info.attrs.id }))),
        );
        const data = items.getChild('pubsub', NS.PUBSUB)?.getChild('items')?.getChild('item')?.getChild('data', NS.AVATAR_DATA)?.text().replace(/\s+/g, '');
        if (!data) return; // the data was not published (or not readable): nothing to copy
        photo = xml('PHOTO', null, xml('TYPE', null, info.attrs.type ?? 'image/png'), xml('BINVAL', null, data));
      } else if (metadata.getChildren('info').length > 0) {
        return; // only URLs: a vCard cannot point at them
      }
      const current = await asUser(bare, 'get', xml('vCard', { xmlns: NS.VCARD }));
      const vcard = current.attrs.type === 'result' ? (current.getChild('vCard', NS.VCARD) ?? xml('vCard', { xmlns: NS.VCARD })) : xml('vCard', { xmlns: NS.VCARD });
      const existing = vcard.getChild('PHOTO')?.getChildText('BINVAL')?.replace(/\s+/g, '') ?? '';
      if (photo && existing === photo.getChildText('BINVAL')) return; // already the same image
      if (!photo && existing === '') return;
      vcard.removeChildren('PHOTO');
      if (photo) vcard.append(photo);
      const set = await asUser(bare, 'set', vcard);
      if (set.attrs.type !== 'result') ctx.log.warn({ user: bare, reply: set.toString() }, 'avatar not copied to the vCard');
    }

    /** §3.2: a vCard PHOTO becomes XEP-0084 data (item id = SHA-1 of the bytes), then metadata. */
    async function vcardToPep(bare: string, vcard: XmlElement): Promise<void> {
      const binval = vcard.getChild('PHOTO')?.getChildText('BINVAL')?.replace(/\s+/g, '') ?? '';
      if (binval === '') return;
      const bytes = Buffer.from(binval, 'base64');
      const id = createHash('sha1').update(bytes).digest('hex');
      // Already the published avatar: nothing to do (and no notification storm on every vCard save).
      const meta = await asUser(bare, 'get', xml('pubsub', { xmlns: NS.PUBSUB }, xml('items', { node: NS.AVATAR_METADATA, max_items: '1' })));
      const published = meta.getChild('pubsub', NS.PUBSUB)?.getChild('items')?.getChild('item')?.getChild('metadata', NS.AVATAR_METADATA);
      if (published?.getChildren('info').some((i) => i.attrs.id === id)) return;
      const type = vcard.getChild('PHOTO')?.getChildText('TYPE') || 'image/png';
      const publish = (node: string, payload: XmlElement) =>
        asUser(bare, 'set', xml('pubsub', { xmlns: NS.PUBSUB }, xml('publish', { node }, xml('item', { id }, payload))));
      // XEP-0084 §4.1: the data first, so that a contact told of the metadata can fetch it.
      const data = await publish(NS.AVATAR_DATA, xml('data', { xmlns: NS.AVATAR_DATA }, bytes.toString('base64')));
      if (data.attrs.type !== 'result') {
        ctx.log.warn({ user: bare, reply: data.toString() }, 'vCard avatar not published to PEP');
        return;
      }
      await publish(NS.AVATAR_METADATA, xml('metadata', { xmlns: NS.AVATAR_METADATA }, xml('info', { id, bytes: String(bytes.length), type })));
    }
  },
});

/** The conversion a client's set will cause: an avatar metadata publish, or a vCard set (with or without PHOTO). */
function conversionOf(stanza: XmlElement, bare: string): Conversion | undefined {
  const payload = stanza.elements()[0];
  if (!payload) return undefined;
  if (payload.name === 'vCard' && payload.attrs.xmlns === NS.VCARD) {
    if (!payload.getChild('PHOTO')?.getChildText('BINVAL')) return undefined;
    return { kind: 'vcard-to-pep', bare, vcard: payload.clone() };
  }
  if (payload.name === 'pubsub' && payload.attrs.xmlns === NS.PUBSUB) {
    const publish = payload.getChild('publish');
    if (publish?.attrs.node !== NS.AVATAR_METADATA) return undefined;
    const metadata = publish.getChild('item')?.getChild('metadata', NS.AVATAR_METADATA);
    if (!metadata) return undefined;
    return { kind: 'pep-to-vcard', bare, metadata: metadata.clone() };
  }
  return undefined;
}
