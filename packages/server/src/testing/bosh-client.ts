// A raw BOSH client (XEP-0124, XEP-0206) over fetch, for end-to-end tests that need to see every body: it keeps
// the rid and sid and leaves the protocol's choices (order, repeats, pauses) to the test.
import { parseXml, type XmlElement } from '@parley/protocol';

export const HTTPBIND = 'http://jabber.org/protocol/httpbind';
export const XBOSH = 'urn:xmpp:xbosh';

export interface BoshReply {
  status: number;
  text: string;
  body: XmlElement;
  headers: Headers;
}

export class RawBoshClient {
  rid = 1_000_000 + Math.floor(Math.random() * 1_000_000);
  sid = '';

  constructor(readonly url: string) {}

  /** POSTs `text` as it is. */
  async post(text: string, headers: Record<string, string> = {}): Promise<BoshReply> {
    const res = await fetch(this.url, { method: 'POST', body: text, headers: { 'Content-Type': 'text/xml; charset=utf-8', ...headers } });
    const reply = await res.text();
    return { status: res.status, text: reply, body: parseXml(reply), headers: res.headers };
  }

  /** A <body/> with this session's sid and the given rid (the next one by default), and `content` inside. */
  body(content = '', attrs: Record<string, string> = {}, rid = ++this.rid): string {
    const all: Record<string, string> = { xmlns: HTTPBIND, rid: String(rid), ...(this.sid ? { sid: this.sid } : {}), ...attrs };
    const open = Object.entries(all)
      .map(([k, v]) => ` ${k}='${v}'`)
      .join('');
    return content ? `<body${open}>${content}</body>` : `<body${open}/>`;
  }

  /** XEP-0206 §4: the session creation request; keeps the sid. */
  async create(attrs: Record<string, string> = {}): Promise<BoshReply> {
    this.sid = '';
    const reply = await this.post(
      this.body('', { to: 'localhost', 'xml:lang': 'en', wait: '2', hold: '1', ver: '1.11', 'xmlns:xmpp': XBOSH, 'xmpp:version': '1.0', ...attrs }),
    );
    this.sid = reply.body.attrs.sid ?? '';
    return reply;
  }

  /** The next request with `content` (stanzas, or nothing). */
  send(content = '', attrs: Record<string, string> = {}): Promise<BoshReply> {
    return this.post(this.body(content, attrs));
  }

  /** SASL PLAIN, the restart of XEP-0206 §5, resource binding; returns the full JID. */
  async login(user: string, resource: string, password = 'secret'): Promise<string> {
    const created = await this.create();
    let features = created.body.getChild('stream:features') ?? (await this.send()).body.getChild('stream:features');
    if (!features) throw new Error(`no features: ${created.text}`);
    const auth = await this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
    if (!auth.body.getChild('success')) throw new Error(`no success: ${auth.text}`);
    const restarted = await this.send('', { to: 'localhost', 'xml:lang': 'en', 'xmlns:xmpp': XBOSH, 'xmpp:restart': 'true' });
    features = restarted.body.getChild('stream:features');
    if (!features?.getChild('bind')) throw new Error(`no bind feature after the restart: ${restarted.text}`);
    const bound = await this.send(`<iq type='set' id='bind' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const jid = bound.body.getChild('iq')?.getChild('bind')?.getChildText('jid');
    if (!jid) throw new Error(`not bound: ${bound.text}`);
    return jid;
  }
}
