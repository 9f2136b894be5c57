// Web Push to browsers (RFC 8030 message delivery, RFC 8291 encryption, RFC 8292 VAPID): the chat app registers
// its browser's push subscription over its XMPP session, and when a chat message arrives for an account with no
// available client (it is about to go to offline storage), each of the account's browsers gets an encrypted push
// with the sender and, if that browser asked for it, a preview. Subscriptions a push service reports gone (404,
// 410; RFC 8030 §7.3) are dropped. No XEP covers pushing to a browser directly (XEP-0357 needs an app server), so
// the registration is Parley's own small protocol, urn:parley:webpush:0:
//   <iq type='get'><vapid xmlns='urn:parley:webpush:0'/></iq>            → <vapid public-key='…'/>
//   <iq type='set'><subscribe xmlns='urn:parley:webpush:0' endpoint='https://…' p256dh='…' auth='…' preview='true'/></iq>
//   <iq type='set'><unsubscribe xmlns='urn:parley:webpush:0' endpoint='https://…'/></iq>
import type { z } from 'zod';
import webpush from 'web-push';
import { NS, StanzaError, xml, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import { Priority } from '../../core/hooks';
import { options, type WebPushOptions } from './options';
import { loadOrCreateVapidKeys } from './vapid';

interface Subscription {
  endpoint: string;
  /** The browser's P-256 public key and auth secret (RFC 8291 §3.2), base64url. */
  p256dh: string;
  auth: string;
  /** The user allowed the message text in notifications. */
  preview: boolean;
  createdAt: number;
}

const PREVIEW_CHARS = 140;

export default defineModule<WebPushOptions>({
  name: 'webpush',
  specs: [
    { spec: 'RFC 8030', version: 'RFC', status: 'partial', note: 'application server side: push message requests with TTL and Urgency; 404/410 drop the subscription' },
    { spec: 'RFC 8291', version: 'RFC', status: 'complete', note: 'aes128gcm payload encryption (web-push)' },
    { spec: 'RFC 8292', version: 'RFC', status: 'complete', note: 'VAPID, keys generated once in the data directory' },
  ],
  options: options as unknown as z.ZodType<WebPushOptions>,
  setup(ctx) {
    const opts = ctx.options;
    const { config, domain } = ctx.server;
    const keys = loadOrCreateVapidKeys(config.data_dir, ctx.log);
    const vapid = { subject: opts.vapid_subject ?? `mailto:postmaster@${domain}`, publicKey: keys.publicKey, privateKey: keys.privateKey };
    const store = ctx.map<Subscription>('webpush');

    ctx.iq.get(NS.PARLEY_WEBPUSH, 'vapid', { to: ['bare'] }, (req) => {
      if (!req.isSelf) throw new StanzaError('forbidden');
      return xml('vapid', { xmlns: NS.PARLEY_WEBPUSH, 'public-key': keys.publicKey });
    });

    ctx.iq.set(NS.PARLEY_WEBPUSH, 'subscribe', { to: ['bare'], feature: false }, async (req) => {
      if (!req.isSelf) throw new StanzaError('forbidden');
      if (opts.max_subscriptions_per_user === 0) throw new StanzaError('not-allowed', 'Web Push is turned off on this server');
      const sub = parseSubscription(req.payload);
      const owner = req.from.toBareString();
      const existing = await store.getAll(owner);
      if (!existing.has(sub.endpoint) && existing.size >= opts.max_subscriptions_per_user) {
        // The oldest browser makes room: a user who reinstalls keeps working, and storage stays bounded.
        const oldest = [...existing.values()].sort((a, b) => a.createdAt - b.createdAt)[0];
        await store.set(owner, oldest.endpoint, undefined);
      }
      await store.set(owner, sub.endpoint, sub);
    });

    ctx.iq.set(NS.PARLEY_WEBPUSH, 'unsubscribe', { to: ['bare'], feature: false }, async (req) => {
      if (!req.isSelf) throw new StanzaError('forbidden');
      const endpoint = req.payload.attrs.endpoint;
      if (!endpoint) throw new StanzaError('bad-request', 'endpoint is required');
      await store.set(req.from.toBareString(), endpoint, undefined);
    });

    // Runs only when delivery found no available client (rfc6121-routing let the message fall through to offline
    // storage, RFC 6121 §8.5.2.2.1); it never consumes the message.
    ctx.on(
      'message/bare',
      ({ stanza, from, to }) => {
        const type = stanza.attrs.type ?? 'normal';
        if ((type !== 'chat' && type !== 'normal') || to.local === undefined) return false;
        const body = stanza.getChildText('body');
        if (body === undefined || body === null || body === '') return false;
        void notifyAll(to.toBareString(), from.toBareString(), body);
        return false;
      },
      Priority.Notify,
    );

    async function notifyAll(owner: string, sender: string, body: string): Promise<void> {
      let subs: Map<string, Subscription>;
      try {
        subs = await store.getAll(owner);
      } catch (err) {
        ctx.log.warn({ err, owner }, 'Web Push: cannot read subscriptions');
        return;
      }
      await Promise.all([...subs.values()].map((sub) => notify(owner, sub, sender, body)));
    }

    async function notify(owner: string, sub: Subscription, sender: string, body: string): Promise<void> {
      const text = body.length > PREVIEW_CHARS ? `${body.slice(0, PREVIEW_CHARS - 1)}…` : body;
      const payload = JSON.stringify({ title: sender, body: sub.preview ? text : 'New message', tag: sender, from: sender });
      try {
        await webpush.sendNotification({ endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } }, payload, {
          vapidDetails: vapid,
          TTL: opts.ttl_s,
          urgency: 'high',
          contentEncoding: 'aes128gcm',
          timeout: opts.timeout_ms,
        });
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        // RFC 8030 §7.3 (410 Gone) and what push services answer for unknown subscriptions (404): forget it.
        if (status === 404 || status === 410) {
          await store.set(owner, sub.endpoint, undefined).catch(() => {});
          ctx.log.info({ owner, status }, 'Web Push: subscription gone, dropped');
        } else {
          ctx.log.warn({ owner, status, err: (err as Error).message }, 'Web Push: push service refused the message');
        }
      }
    }
  },
});

function parseSubscription(el: XmlElement): Subscription {
  const { endpoint, p256dh, auth } = el.attrs;
  if (!endpoint || !p256dh || !auth) throw new StanzaError('bad-request', 'endpoint, p256dh and auth are required');
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new StanzaError('bad-request', 'endpoint is not a URL');
  }
  // RFC 8030 §8: push services are reached over HTTPS only.
  if (url.protocol !== 'https:') throw new StanzaError('bad-request', 'endpoint must be an https: URL');
  // RFC 8291 §3.2: an uncompressed P-256 point (65 bytes) and a 16-byte secret.
  const key = decodeBase64Url(p256dh);
  if (!key || key.length !== 65 || key[0] !== 0x04) throw new StanzaError('bad-request', 'p256dh must be an uncompressed P-256 public key');
  const secret = decodeBase64Url(auth);
  if (!secret || secret.length !== 16) throw new StanzaError('bad-request', 'auth must be 16 bytes');
  const preview = el.attrs.preview === 'true' || el.attrs.preview === '1';
  return { endpoint, p256dh, auth, preview, createdAt: Date.now() };
}

function decodeBase64Url(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(s)) return undefined;
  return Buffer.from(s, 'base64url');
}
