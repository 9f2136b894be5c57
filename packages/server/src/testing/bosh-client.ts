// A raw BOSH client (XEP-0124, XEP-0206) over fetch, for end-to-end tests that need to see every body: it keeps
// the rid and sid and leaves the protocol's choices (order, repeats, pauses) to the test.
import { request } from 'node:http';
import { parseXml, type XmlElement, NS } from '@parley/protocol';

export const HTTPBIND = 'http://jabber.org/protocol/httpbind';
export const XBOSH = 'urn:xmpp:xbosh';

export interface BoshReply {
  status: number;
  text: string;
  body: XmlElement;
  headers: Record<string, string | string[] | undefined>;
}

export class RawBoshClient {
  rid = 1_000_000 + Math.floor(Math.random() * 1_000_000);
  sid = '';

  constructor(readonly url: string) {}

  /**
   * POSTs `text` as it is, each request on a new connection: the hardest case for a server (with worker processes,
   * consecutive requests of a session reach different workers).
   */
  post(text: string, headers: Record<string, string> = {}): Promise<BoshReply> {
    return new Promise((resolve, reject) => {
      const req = request(this.url, { method: 'POST', agent: false, headers: { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const reply = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, text: reply, body: parseXml(reply), headers: res.headers });
          } catch (err) {
            reject(new Error(`HTTP ${res.statusCode}: ${reply} (${(err as Error).message})`));
          }
        });
      });
      req.on('error', reject);
      req.end(text);
    });
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
    let features = created.body.getChild('features', NS.STREAM) ?? (await this.send()).body.getChild('features', NS.STREAM);
    if (!features) throw new Error(`no features: ${created.text}`);
    const auth = await this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
    if (!auth.body.getChild('success')) throw new Error(`no success: ${auth.text}`);
    const restarted = await this.send('', { to: 'localhost', 'xml:lang': 'en', 'xmlns:xmpp': XBOSH, 'xmpp:restart': 'true' });
    features = restarted.body.getChild('features', NS.STREAM);
    if (!features?.getChild('bind')) throw new Error(`no bind feature after the restart: ${restarted.text}`);
    const bound = await this.send(`<iq type='set' id='bind' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const jid = bound.body.getChild('iq')?.getChild('bind')?.getChildText('jid');
    if (!jid) throw new Error(`not bound: ${bound.text}`);
    return jid;
  }
}
