// The message features of one-to-one and group chats, as stanzas sent: corrections (XEP-0308), retractions
// (XEP-0424), replies (XEP-0461 with XEP-0428 fallback), reactions (XEP-0444) and files (XEP-0066) that go up
// through HTTP File Upload (XEP-0363) first. message-read.ts reads them; the rules about who may change what live
// in state/message-features.ts.
import { xml, type Client, type Element } from '@xmpp/client';
import { Jid, NS } from '@parley/protocol';
import type { Chat, Message, Store } from '../state/store';
import { cleanReactions, integrate, quoteText, referenceId, replyFallback, type MessageEdit } from '../state/message-features';

export { readMessage, type Author, type ReadMessage } from './message-read';

export interface SendOptions {
  /** XEP-0461: the message answered, with its author's name and address for the fallback and the reference. */
  replyTo?: { message: Message; authorName: string; authorJid: string };
  /** XEP-0066: the body is an uploaded file's URL. */
  file?: { url: string };
}

/** Sends and changes messages for the UI; applies our own changes locally at once in one-to-one chats. */
export class MessageFeatures {
  private uploadService?: Promise<string | undefined>;

  constructor(
    private readonly store: Store,
    private readonly xmpp: () => Client | undefined,
  ) {}

  private kindOf(chatJid: string): Chat['kind'] {
    return this.store.state.chats[chatJid]?.kind ?? 'chat';
  }

  /** Our sender key in a chat: the bare JID, or our occupant-id in a room (nick:<nick> before we know it). */
  me(chatJid: string): string | undefined {
    const room = this.store.state.rooms[chatJid];
    if (room) return room.occupantId ?? `nick:${room.nick}`;
    return this.store.state.me;
  }

  private apply(chatJid: string, incoming: Message[], edits: MessageEdit[]): void {
    this.store.update((s) => {
      const chat = s.chats[chatJid];
      if (!chat) return s;
      return { ...s, chats: { ...s.chats, [chatJid]: integrate(chat, incoming, edits) } };
    });
  }

  /**
   * A new message, possibly a reply or a file. One-to-one messages show at once; a room's come back reflected
   * with the room's stanza-id (XEP-0045 §7.4), which replies and reactions to them need.
   */
  async send(chatJid: string, text: string, opts: SendOptions = {}): Promise<void> {
    const xmpp = this.xmpp();
    const body = text.trim();
    if (!xmpp || !body) return;
    const kind = this.kindOf(chatJid);
    const id = crypto.randomUUID();
    const children: Element[] = [];
    let fullBody = body;
    let reply: Message['reply'];
    const target = opts.replyTo && referenceId(opts.replyTo.message, kind);
    if (opts.replyTo && target) {
      // XEP-0461 §3 and §4: the reference and, for clients without replies, a quote marked as fallback.
      const quote = replyFallback(opts.replyTo.authorName, opts.replyTo.message.body);
      fullBody = quote + body;
      reply = { id: target, to: opts.replyTo.authorJid, quote: quoteText(quote) };
      children.push(
        xml('reply', { xmlns: NS.REPLY, to: opts.replyTo.authorJid, id: target }),
        xml('fallback', { xmlns: NS.FALLBACK, for: NS.REPLY }, xml('body', { start: '0', end: String([...quote].length) })),
      );
    }
    if (opts.file) children.push(xml('x', { xmlns: NS.OOB }, xml('url', {}, opts.file.url)));
    if (kind === 'chat') {
      const me = this.store.state.me!;
      this.apply(chatJid, [{ id, outgoing: true, body, time: Date.now(), sender: me, reply, file: opts.file }], []);
      children.push(xml('active', { xmlns: NS.CHATSTATES }), xml('request', { xmlns: NS.RECEIPTS }));
    }
    // XEP-0359: origin-id, so we recognise our message in the archive, as a carbon and reflected by a room.
    await xmpp.send(xml('message', { to: chatJid, type: kind, id }, xml('body', {}, fullBody), ...children, xml('origin-id', { xmlns: NS.STANZA_ID, id })));
  }

  /** XEP-0308 §3: a correction of our message `m`, naming its original id. */
  async correct(chatJid: string, m: Message, text: string): Promise<void> {
    const xmpp = this.xmpp();
    const body = text.trim();
    if (!xmpp || !body || !m.outgoing || body === m.body) return;
    const kind = this.kindOf(chatJid);
    const id = crypto.randomUUID();
    if (kind === 'chat') this.apply(chatJid, [], [{ kind: 'correct', target: m.id, by: 'id', sender: this.store.state.me!, body, time: Date.now() }]);
    // XEP-0085 §5.1: the correction ends our typing, as any content message does.
    const state = kind === 'chat' ? xml('active', { xmlns: NS.CHATSTATES }) : undefined;
    await xmpp.send(
      xml('message', { to: chatJid, type: kind, id }, xml('body', {}, body), xml('replace', { xmlns: NS.CORRECT, id: m.id }), state, xml('origin-id', { xmlns: NS.STANZA_ID, id })),
    );
  }

  /** XEP-0424 §4: deletes our message `m` for everyone, with a fallback body and a store hint (XEP-0334). */
  async retract(chatJid: string, m: Message): Promise<void> {
    const xmpp = this.xmpp();
    const kind = this.kindOf(chatJid);
    const target = referenceId(m, kind);
    if (!xmpp || !m.outgoing || !target) return;
    if (kind === 'chat') this.apply(chatJid, [], [{ kind: 'retract', target, by: 'id', sender: this.store.state.me!, time: Date.now() }]);
    await xmpp.send(
      xml(
        'message',
        { to: chatJid, type: kind, id: crypto.randomUUID() },
        xml('retract', { xmlns: NS.RETRACT, id: target }),
        xml('fallback', { xmlns: NS.FALLBACK, for: NS.RETRACT }),
        xml('body', {}, 'This person attempted to retract a previous message, but your client does not support it.'),
        xml('store', { xmlns: NS.HINTS }),
      ),
    );
  }

  /** XEP-0444 §3: our whole set of reactions to `m` (empty: none). */
  async react(chatJid: string, m: Message, emojis: string[]): Promise<void> {
    const xmpp = this.xmpp();
    const kind = this.kindOf(chatJid);
    const target = referenceId(m, kind);
    const me = this.me(chatJid);
    if (!xmpp || !target || !me || m.retracted) return;
    const clean = cleanReactions(emojis);
    if (kind === 'chat') this.apply(chatJid, [], [{ kind: 'react', target, by: 'id', sender: me, name: 'You', emojis: clean, time: Date.now() }]);
    await xmpp.send(
      xml(
        'message',
        { to: chatJid, type: kind, id: crypto.randomUUID() },
        xml('reactions', { xmlns: NS.REACTIONS, id: target }, ...clean.map((e) => xml('reaction', {}, e))),
        xml('store', { xmlns: NS.HINTS }),
      ),
    );
  }

  /** The HTTP File Upload service of our server (XEP-0363 §2: disco#items, then the feature in disco#info). */
  private findUploadService(): Promise<string | undefined> {
    this.uploadService ??= (async () => {
      const xmpp = this.xmpp();
      const domain = this.store.state.me?.split('@')[1];
      if (!xmpp || !domain) return undefined;
      const items = await xmpp.iqCaller.request(xml('iq', { type: 'get', to: domain }, xml('query', { xmlns: NS.DISCO_ITEMS })));
      for (const item of items.getChild('query', NS.DISCO_ITEMS)?.getChildren('item') ?? []) {
        const jid = item.attrs.jid;
        if (!jid) continue;
        const info = await xmpp.iqCaller.request(xml('iq', { type: 'get', to: jid }, xml('query', { xmlns: NS.DISCO_INFO }))).catch(() => undefined);
        if (info?.getChild('query', NS.DISCO_INFO)?.getChildren('feature').some((f) => f.attrs.var === NS.HTTP_UPLOAD)) return jid;
      }
      return undefined;
    })().catch(() => undefined);
    const found = this.uploadService;
    void found.then((jid) => {
      if (!jid && this.uploadService === found) this.uploadService = undefined;
    });
    return found;
  }

  /**
   * XEP-0363 §4-§5: asks for a slot, PUTs the file with XMLHttpRequest (whose upload events give the progress,
   * which fetch does not), and returns the GET URL. Errors are sentences to show.
   */
  async upload(file: File, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<string> {
    const xmpp = this.xmpp();
    if (!xmpp) throw new Error('Not connected.');
    const service = await this.findUploadService();
    if (!service) throw new Error('This server does not take file uploads.');
    const type = file.type || 'application/octet-stream';
    let slot: Element;
    try {
      slot = await xmpp.iqCaller.request(
        xml('iq', { type: 'get', to: service }, xml('request', { xmlns: NS.HTTP_UPLOAD, filename: file.name || 'file', size: String(file.size), 'content-type': type })),
      );
    } catch (err) {
      const text = (err as { element?: Element })?.element?.getChild('error')?.getChildText('text', NS.STANZAS);
      throw new Error(text ? `The server refused the file: ${text}` : 'The server refused the file.');
    }
    const s = slot.getChild('slot', NS.HTTP_UPLOAD);
    const put = s?.getChild('put')?.attrs.url;
    const get = s?.getChild('get')?.attrs.url;
    if (!put || !get || !/^https?:\/\//.test(put) || !/^https?:\/\//.test(get)) throw new Error('The server gave no usable upload address.');
    await new Promise<void>((resolve, reject) => {
      const req = new XMLHttpRequest();
      req.open('PUT', put);
      req.setRequestHeader('Content-Type', type);
      req.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      req.onload = () => (req.status >= 200 && req.status < 300 ? resolve() : reject(new Error(`The upload failed (HTTP ${req.status}).`)));
      req.onerror = () => reject(new Error('The upload failed (network error).'));
      req.onabort = () => reject(new Error('Upload cancelled.'));
      signal?.addEventListener('abort', () => req.abort());
      req.send(file);
    });
    onProgress(1);
    return get;
  }
}

/** The bare JID of a one-to-one message's author, or the occupant of a room message, as a reply's 'to' names it. */
export function authorJid(chatJid: string, kind: Chat['kind'], m: Message, me: string): string {
  if (kind === 'groupchat') return `${chatJid}/${m.nick ?? ''}`;
  return m.outgoing ? me : Jid.tryParse(chatJid)?.toBareString() ?? chatJid;
}
