// A minimal, fast raw XMPP client for load generation (RFC 6120 c2s over TCP).
//
// No XML library on the hot path: stanzas are written as strings and found in the read buffer by
// cheap string scanning. The framing is good enough for what servers emit (escaped attribute
// values, no nested element with the same name as its top-level stanza) but it is NOT a general
// XML parser: never use it for conformance testing.

import net from 'node:net';
import tls from 'node:tls';
import { StringDecoder } from 'node:string_decoder';
import crypto from 'node:crypto';

export const NS_CLIENT = 'jabber:client';
const NS_STREAM = 'http://etherx.jabber.org/streams';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
const NS_REGISTER = 'jabber:iq:register';
const NS_SASL2 = 'urn:xmpp:sasl:2';
const NS_BIND2 = 'urn:xmpp:bind:0';
const NS_FAST = 'urn:xmpp:fast:0';
/** The XEP-0484 token mechanism the bench uses: no channel binding, as the FAST variant runs without TLS. */
export const FAST_MECHANISM = 'HT-SHA-256-NONE';

export interface ConnTarget {
  host: string;
  port: number;
  domain: string;
}

export interface ConnectOptions extends ConnTarget {
  /** Source address (127.0.0.1–127.0.0.8) so that many connections do not exhaust one address's ports. */
  localAddress?: string;
  /** Negotiate STARTTLS (certificates are not verified: benchmark servers use self-signed ones). */
  starttls?: boolean;
  /** Time allowed for each negotiation step. */
  stepTimeoutMs?: number;
  /** SASL mechanism for login (default PLAIN: the server hashes the password at every login). */
  sasl?: SaslChoice;
}

export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-1';
/** What to log in with: a mechanism, or SCRAM-SHA-1 where offered and PLAIN otherwise. */
export type SaslChoice = SaslMechanism | 'SCRAM-SHA-1-OR-PLAIN';

/** Called for each top-level element once the stream is established (and no waiter wants it). */
export type StanzaHandler = (stanza: string, name: string) => void;

export class XmppError extends Error {}

/** The server lacks what a variant needs (XEP-0388 SASL2, XEP-0386 Bind 2, XEP-0484 FAST): recorded, not a failure. */
export class NotSupportedError extends XmppError {}

/** How to log in with XEP-0388 SASL2 and XEP-0386 Bind 2 (loginSasl2). */
export interface Sasl2Login {
  /** XEP-0388 <user-agent id/>: FAST tokens and Bind 2's stable resources belong to it. */
  userAgentId: string;
  /** XEP-0386 <tag/>. */
  tag: string;
  /** PLAIN with this password… */
  password?: string;
  /** …or HT-SHA-256-NONE with this XEP-0484 token. */
  token?: string;
  /** Ask for a FAST token (<request-token/>) with the password login. */
  requestToken?: boolean;
}

/** SCRAM salted passwords by (password, salt, iterations): one PBKDF2 per account per process. */
const scramCache = new Map<string, Buffer>();

const LOCAL_ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`);
let addressCursor = 0;

/** Round-robin over 127.0.0.1–127.0.0.8; `offset` staggers the start per worker process. */
export function nextLocalAddress(offset = 0): string {
  const a = LOCAL_ADDRESSES[(addressCursor + offset) % LOCAL_ADDRESSES.length]!;
  addressCursor++;
  return a;
}

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

/** Attribute value from a stanza's start tag (the first '>' ends the tag). */
export function getAttr(stanza: string, name: string): string | undefined {
  const end = stanza.indexOf('>');
  let from = 0;
  for (;;) {
    const i = stanza.indexOf(name + '=', from);
    if (i < 0 || i > end) return undefined;
    const before = stanza.charCodeAt(i - 1);
    if (before === 32 || before === 9 || before === 10 || before === 13) {
      const q = stanza[i + name.length + 1];
      const vStart = i + name.length + 2;
      const vEnd = stanza.indexOf(q!, vStart);
      return vEnd < 0 ? undefined : stanza.slice(vStart, vEnd);
    }
    from = i + 1;
  }
}

/** Text of the first <tag>…</tag> (no attributes on the tag), e.g. body or status. */
export function getChildText(stanza: string, tag: string): string | undefined {
  const open = `<${tag}>`;
  const i = stanza.indexOf(open);
  if (i < 0) return undefined;
  const j = stanza.indexOf(`</${tag}>`, i + open.length);
  return j < 0 ? undefined : stanza.slice(i + open.length, j);
}

export function bareJid(jid: string): string {
  const slash = jid.indexOf('/');
  return slash < 0 ? jid : jid.slice(0, slash);
}

interface Waiter {
  resolve: (stanza: string) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class XmppConn {
  private sock: net.Socket;
  private decoder = new StringDecoder('utf8');
  private buf = '';
  private queue: string[] = [];
  private waiter: Waiter | null = null;
  private pendingIq = new Map<string, (stanza: string) => void>();
  private idSeq = 0;
  private readonly stepTimeoutMs: number;
  onStanza: StanzaHandler | null = null;
  onClose: ((err?: Error) => void) | null = null;
  closed = false;
  /** SASL mechanism the login used */
  mechanism: SaslMechanism | typeof FAST_MECHANISM | '' = '';
  /** we ended the stream ourselves (close()): the server's </stream:stream> is expected */
  closing = false;
  encrypted = false;
  jid = '';
  /** Bytes handed to the socket that the kernel has not taken yet (open-loop senders watch this). */
  get pendingWriteBytes(): number {
    return this.sock.writableLength;
  }

  private constructor(
    sock: net.Socket,
    readonly opts: ConnectOptions,
  ) {
    this.sock = sock;
    this.stepTimeoutMs = opts.stepTimeoutMs ?? 30_000;
    this.attach(sock);
  }

  /** Opens the TCP connection only. */
  static connect(opts: ConnectOptions): Promise<XmppConn> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress });
      sock.setNoDelay(true);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new XmppError('connect timeout'));
      }, opts.stepTimeoutMs ?? 30_000);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        reject(err);
      };
      sock.once('error', onError);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.off('error', onError);
        resolve(new XmppConn(sock, opts));
      });
    });
  }

  /** Connect, optional STARTTLS, SASL PLAIN, bind: a ready session (no presence sent yet). */
  static async login(
    opts: ConnectOptions,
    user: string,
    password: string,
    resource = 'bench',
  ): Promise<XmppConn> {
    const conn = await XmppConn.connect(opts);
    try {
      let features = await conn.openStream();
      if (opts.starttls) {
        if (!features.includes(NS_TLS)) throw new XmppError('STARTTLS not offered');
        await conn.startTls();
        features = await conn.openStream();
      }
      const scram =
        opts.sasl === 'SCRAM-SHA-1' || (opts.sasl === 'SCRAM-SHA-1-OR-PLAIN' && features.includes('>SCRAM-SHA-1<'));
      if (scram) await conn.authScramSha1(features, user, password);
      else await conn.authPlain(features, user, password);
      conn.mechanism = scram ? 'SCRAM-SHA-1' : 'PLAIN';
      features = await conn.openStream();
      await conn.bind(features, resource);
      return conn;
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  /**
   * XEP-0388 SASL2 with XEP-0386 Bind 2 inline: authenticated and bound in one round trip, no stream restart.
   * PLAIN with a password (optionally asking for a XEP-0484 token), or HT-SHA-256-NONE with a token: the client
   * sends `user NUL HMAC-SHA-256(token, "Initiator")` and nothing is hashed with PBKDF2 on either side.
   * Resolves with the bound stream and the token the server issued (asked for, or rotated), if any.
   */
  static async loginSasl2(opts: ConnectOptions, user: string, how: Sasl2Login): Promise<{ conn: XmppConn; token?: string }> {
    const conn = await XmppConn.connect(opts);
    try {
      const features = await conn.openStream();
      const sasl2 = /<authentication [^>]*>([\s\S]*?)<\/authentication>/.exec(features)?.[1];
      if (sasl2 === undefined || !features.includes(NS_SASL2)) throw new NotSupportedError('no SASL2 (XEP-0388)');
      if (!sasl2.includes(NS_BIND2)) throw new NotSupportedError('no Bind 2 (XEP-0386) in SASL2');
      const fast = /<fast [^>]*>([\s\S]*?)<\/fast>/.exec(sasl2)?.[1] ?? '';
      if ((how.token !== undefined || how.requestToken) && !fast.includes(`>${FAST_MECHANISM}<`)) {
        throw new NotSupportedError(`no FAST ${FAST_MECHANISM} (XEP-0484) in SASL2`);
      }
      let mechanism: 'PLAIN' | typeof FAST_MECHANISM;
      let initial: string;
      let extra = '';
      if (how.token !== undefined) {
        mechanism = FAST_MECHANISM;
        const hash = crypto.createHmac('sha256', Buffer.from(how.token, 'utf8')).update('Initiator').digest();
        initial = Buffer.concat([Buffer.from(`${user}\0`, 'utf8'), hash]).toString('base64');
        extra = `<fast xmlns='${NS_FAST}'/>`;
      } else {
        if (!sasl2.includes('<mechanism>PLAIN</mechanism>')) throw new XmppError(`SASL2 PLAIN not offered: ${sasl2.slice(0, 300)}`);
        mechanism = 'PLAIN';
        initial = Buffer.from(`\0${user}\0${how.password ?? ''}`, 'utf8').toString('base64');
        if (how.requestToken) extra = `<request-token xmlns='${NS_FAST}' mechanism='${FAST_MECHANISM}'/>`;
      }
      conn.send(
        `<authenticate xmlns='${NS_SASL2}' mechanism='${mechanism}'><initial-response>${initial}</initial-response>` +
          `<user-agent id='${xmlEscape(how.userAgentId)}'/><bind xmlns='${NS_BIND2}'><tag>${xmlEscape(how.tag)}</tag></bind>${extra}</authenticate>`,
      );
      const reply = await conn.next();
      if (!reply.startsWith('<success')) throw new XmppError(`SASL2 ${mechanism} failed for ${user}: ${reply.slice(0, 300)}`);
      // XEP-0388 §2.6.1: the features of the authenticated stream follow <success/> at once.
      const after = await conn.next();
      if (!after.startsWith('<stream:features')) throw new XmppError(`expected features after SASL2 success, got ${after.slice(0, 200)}`);
      conn.mechanism = mechanism;
      conn.jid = getChildText(reply, 'authorization-identifier') ?? '';
      const tokenTag = /<token [^>]*>/.exec(reply)?.[0];
      return { conn, token: tokenTag === undefined ? undefined : getAttr(tokenTag, 'token') };
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  /** XEP-0077 in-band registration on a fresh stream; 'exists' when the account is already there. */
  static async register(opts: ConnectOptions, user: string, password: string): Promise<'created' | 'exists'> {
    const conn = await XmppConn.connect(opts);
    try {
      let features = await conn.openStream();
      if (opts.starttls) {
        await conn.startTls();
        features = await conn.openStream();
      }
      void features;
      const reply = await conn.iq(
        'set',
        `<query xmlns='${NS_REGISTER}'><username>${xmlEscape(user)}</username><password>${xmlEscape(password)}</password></query>`,
      );
      if (getAttr(reply, 'type') === 'result') return 'created';
      if (reply.includes('<conflict')) return 'exists';
      throw new XmppError(`registration failed: ${reply.slice(0, 300)}`);
    } finally {
      conn.close();
    }
  }

  private attach(sock: net.Socket): void {
    sock.on('data', (chunk: Buffer) => {
      this.buf += this.decoder.write(chunk);
      this.parse();
    });
    sock.on('error', (err) => this.handleClose(err));
    sock.on('close', () => this.handleClose());
  }

  private handleClose(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    const e = err ?? new XmppError('connection closed');
    if (this.waiter) {
      clearTimeout(this.waiter.timer);
      this.waiter.reject(e);
      this.waiter = null;
    }
    this.pendingIq.clear();
    this.onClose?.(err);
  }

  /** Splits the read buffer into top-level elements. */
  private parse(): void {
    const b = this.buf;
    const len = b.length;
    let pos = 0;
    while (pos < len) {
      const lt = b.indexOf('<', pos);
      if (lt < 0) {
        pos = len; // whitespace keepalive
        break;
      }
      if (lt + 1 >= len) {
        pos = lt;
        break;
      }
      const c = b.charCodeAt(lt + 1);
      if (c === 63 /* ? */) {
        const e = b.indexOf('?>', lt);
        if (e < 0) {
          pos = lt;
          break;
        }
        pos = e + 2;
        continue;
      }
      if (c === 47 /* / */) {
        const e = b.indexOf('>', lt);
        if (e < 0) {
          pos = lt;
          break;
        }
        pos = e + 1;
        this.dispatch(b.slice(lt, e + 1), '/stream');
        continue;
      }
      let i = lt + 1;
      while (i < len) {
        const ch = b.charCodeAt(i);
        if (ch === 32 || ch === 62 || ch === 47 || ch === 9 || ch === 10 || ch === 13) break;
        i++;
      }
      if (i >= len) {
        pos = lt;
        break;
      }
      const name = b.slice(lt + 1, i);
      const gt = b.indexOf('>', i);
      if (gt < 0) {
        pos = lt;
        break;
      }
      if (name === 'stream:stream' || name === 'stream') {
        pos = gt + 1;
        this.dispatch(b.slice(lt, gt + 1), 'stream:stream');
        continue;
      }
      if (b.charCodeAt(gt - 1) === 47 /* / */) {
        pos = gt + 1;
        this.dispatch(b.slice(lt, gt + 1), name);
        continue;
      }
      const closeTag = '</' + name + '>';
      const e = b.indexOf(closeTag, gt + 1);
      if (e < 0) {
        pos = lt;
        break;
      }
      pos = e + closeTag.length;
      this.dispatch(b.slice(lt, pos), name);
    }
    this.buf = pos >= len ? '' : b.slice(pos);
  }

  private dispatch(stanza: string, name: string): void {
    if (name === 'iq' && this.pendingIq.size > 0) {
      const type = getAttr(stanza, 'type');
      if (type === 'result' || type === 'error') {
        const id = getAttr(stanza, 'id');
        const cb = id === undefined ? undefined : this.pendingIq.get(id);
        if (cb) {
          this.pendingIq.delete(id!);
          cb(stanza);
          return;
        }
      }
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      clearTimeout(w.timer);
      w.resolve(stanza);
      return;
    }
    if (this.onStanza) {
      this.onStanza(stanza, name);
      return;
    }
    if (this.queue.length < 10_000) this.queue.push(stanza);
  }

  /** The next top-level element not claimed by an IQ callback. */
  next(timeoutMs = this.stepTimeoutMs): Promise<string> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.reject(new XmppError('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new XmppError('timeout waiting for server'));
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  /** Next element, skipping those that do not satisfy `pred` (at most `maxSkip`). */
  async nextMatching(pred: (s: string) => boolean, timeoutMs = this.stepTimeoutMs, maxSkip = 1000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i <= maxSkip; i++) {
      const s = await this.next(Math.max(1, deadline - Date.now()));
      if (pred(s)) return s;
    }
    throw new XmppError('too many unexpected elements');
  }

  send(data: string): void {
    if (!this.closed) this.sock.write(data);
  }

  nextId(prefix = 'q'): string {
    return prefix + (++this.idSeq).toString(36);
  }

  /** Sends an IQ and resolves with the result or error reply (matched by id). */
  iq(type: 'get' | 'set', payload: string, to?: string, timeoutMs = this.stepTimeoutMs): Promise<string> {
    const id = this.nextId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingIq.delete(id);
        reject(new XmppError(`iq ${id} timed out`));
      }, timeoutMs);
      this.pendingIq.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.send(`<iq type='${type}' id='${id}'${to ? ` to='${xmlEscape(to)}'` : ''}>${payload}</iq>`);
    });
  }

  /** Sends a stream header and returns the stream features that follow. */
  async openStream(): Promise<string> {
    this.send(
      `<?xml version='1.0'?><stream:stream to='${xmlEscape(this.opts.domain)}' version='1.0' xml:lang='en' ` +
        `xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAM}'>`,
    );
    const header = await this.next();
    if (!header.startsWith('<stream')) throw new XmppError(`expected stream header, got ${header.slice(0, 200)}`);
    const features = await this.next();
    if (!features.startsWith('<stream:features')) {
      throw new XmppError(`expected stream features, got ${features.slice(0, 300)}`);
    }
    return features;
  }

  async startTls(): Promise<void> {
    this.send(`<starttls xmlns='${NS_TLS}'/>`);
    const reply = await this.next();
    if (!reply.startsWith('<proceed')) throw new XmppError(`STARTTLS refused: ${reply.slice(0, 200)}`);
    const raw = this.sock;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    raw.on('error', () => {}); // errors surface on the TLS socket
    this.buf = '';
    this.decoder = new StringDecoder('utf8');
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: raw, servername: this.opts.domain, rejectUnauthorized: false });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new XmppError('TLS handshake timeout'));
      }, this.stepTimeoutMs);
      s.once('secureConnect', () => {
        clearTimeout(timer);
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    this.sock = secure;
    this.encrypted = true;
    this.attach(secure);
  }

  async authPlain(features: string, user: string, password: string): Promise<void> {
    if (!/<mechanism>PLAIN<\/mechanism>/.test(features)) {
      throw new XmppError(`SASL PLAIN not offered: ${features.slice(0, 400)}`);
    }
    const token = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
    this.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${token}</auth>`);
    const reply = await this.next();
    if (!reply.startsWith('<success')) throw new XmppError(`SASL failed for ${user}: ${reply.slice(0, 200)}`);
  }

  /**
   * RFC 5802 SCRAM-SHA-1 (no channel binding). The salted password is cached per (password, salt,
   * iterations) like real clients do, so the generator pays PBKDF2 once per account, and the server
   * only checks the proof (no PBKDF2 on its side).
   */
  async authScramSha1(features: string, user: string, password: string): Promise<void> {
    if (!features.includes('>SCRAM-SHA-1<')) throw new XmppError('SASL SCRAM-SHA-1 not offered');
    const saslName = user.replace(/=/g, '=3D').replace(/,/g, '=2C');
    const clientFirstBare = `n=${saslName},r=${crypto.randomBytes(12).toString('base64')}`;
    this.send(
      `<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-1'>${Buffer.from('n,,' + clientFirstBare).toString('base64')}</auth>`,
    );
    const challenge = await this.next();
    if (!challenge.startsWith('<challenge')) throw new XmppError(`SCRAM failed for ${user}: ${challenge.slice(0, 200)}`);
    const serverFirst = Buffer.from(challenge.slice(challenge.indexOf('>') + 1, challenge.lastIndexOf('<')), 'base64').toString();
    const attrs = new Map(serverFirst.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)] as [string, string]));
    const nonce = attrs.get('r') ?? '';
    const salt = attrs.get('s') ?? '';
    const iterations = Number(attrs.get('i'));
    if (!nonce || !salt || !(iterations > 0)) throw new XmppError(`bad SCRAM challenge: ${serverFirst}`);
    const key = `${password}\0${salt}\0${iterations}`;
    let salted = scramCache.get(key);
    if (!salted) {
      salted = crypto.pbkdf2Sync(password, Buffer.from(salt, 'base64'), iterations, 20, 'sha1');
      scramCache.set(key, salted);
    }
    const clientKey = crypto.createHmac('sha1', salted).update('Client Key').digest();
    const storedKey = crypto.createHash('sha1').update(clientKey).digest();
    const finalNoProof = `c=biws,r=${nonce}`;
    const authMessage = `${clientFirstBare},${serverFirst},${finalNoProof}`;
    const signature = crypto.createHmac('sha1', storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.send(
      `<response xmlns='${NS_SASL}'>${Buffer.from(`${finalNoProof},p=${proof.toString('base64')}`).toString('base64')}</response>`,
    );
    const reply = await this.next();
    if (!reply.startsWith('<success')) throw new XmppError(`SCRAM failed for ${user}: ${reply.slice(0, 200)}`);
  }

  async bind(features: string, resource: string): Promise<void> {
    if (!features.includes(NS_BIND)) throw new XmppError('resource binding not offered');
    const reply = await this.iq('set', `<bind xmlns='${NS_BIND}'><resource>${xmlEscape(resource)}</resource></bind>`);
    if (getAttr(reply, 'type') !== 'result') throw new XmppError(`bind failed: ${reply.slice(0, 200)}`);
    this.jid = getChildText(reply, 'jid') ?? '';
    // RFC 3921 session establishment, only where a server still requires it (RFC 6121 made it
    // optional and servers mark it <optional/>).
    const s = features.indexOf(NS_SESSION);
    if (s >= 0) {
      const tagEnd = features.indexOf('>', s);
      const selfClosed = features.charCodeAt(tagEnd - 1) === 47;
      const optional =
        !selfClosed && features.slice(tagEnd, features.indexOf('</session>', tagEnd)).includes('optional');
      if (!optional) await this.iq('set', `<session xmlns='${NS_SESSION}'/>`);
    }
  }

  /** Graceful close: end the stream and the socket; destroyed if the server does not close soon. */
  close(graceMs = 3000): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      this.closing = true;
      const timer = setTimeout(() => {
        this.sock.destroy();
        resolve();
      }, graceMs);
      this.sock.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.sock.write('</stream:stream>');
      this.sock.end();
    });
  }

  destroy(): void {
    this.sock.destroy();
  }
}
