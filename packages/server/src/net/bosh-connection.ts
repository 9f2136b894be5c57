// A Connection over BOSH (XEP-0124, XEP-0206): one session made of many HTTP requests, each carrying a <body/>
// wrapper. The session owns what XEP-0124 adds to a stream — the request ids ('rid', §14) processed in order
// within a window and the last responses kept for a client that repeats a request, the held requests ('hold',
// 'wait', §7–§8), the inactivity clock and pauses (§10), acknowledgements (§9), overactivity (§11–§12) and the
// terminal conditions (§17) — and turns bodies into the stream machine's open / element / close events: the
// session creation request opens the stream, xmpp:restart='true' restarts it after SASL (XEP-0206 §5), and
// type='terminate' closes it. Stanzas for the client wait (bounded) until a request is there to carry them.
import { NS, XmlElement, xml, type Attrs } from '@parley/protocol';
import type { ChannelBindingType } from '../stream/sasl/types';
import type { Connection, FramedHandlers } from './connection';
import { withNamespaces } from './websocket-connection';

/** XEP-0124 §17.2: the conditions of a terminal binding error. */
export type TerminalCondition =
  | 'bad-request'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'item-not-found'
  | 'other-request'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'remote-stream-error'
  | 'see-other-uri'
  | 'system-shutdown'
  | 'undefined-condition';

/** Answers one HTTP request with a serialised <body/>. */
export type Respond = (body: string) => void;

/** What the session creation response announced (XEP-0124 §7.2), in seconds where they are times. */
export interface BoshSessionParams {
  sid: string;
  /** The rid of the session creation request: the first of the session. */
  creationRid: number;
  hold: number;
  wait: number;
  inactivity: number;
  /** Shortest interval between empty requests of a polling session (hold 0); 0: no limit. */
  polling: number;
  /** Longest pause a client may ask for (§10); 0: pauses are refused. */
  maxPause: number;
  /** XEP-0124 'ver': the protocol version both sides speak. */
  ver: string;
  /** §9: the client asked for acknowledgements (ack='1' at creation). */
  acks: boolean;
  /** XEP-0206 §4: the XMPP version the client asked for (xmpp:version), given to the stream on every restart. */
  xmppVersion: string | undefined;
  /** Stanzas kept while no request is held before the session is dropped. */
  maxPending: number;
  remoteAddress: string;
  secure: boolean;
}

interface Held {
  rid: number;
  respond: Respond;
  timer: NodeJS.Timeout;
}

/** A <body type='terminate'/> (XEP-0124 §17.2), with a condition and content when given. */
export function terminateBody(condition?: TerminalCondition, content = ''): string {
  return bodyText({ type: 'terminate', condition }, content);
}

function bodyText(attrs: Record<string, string | undefined>, content: string): string {
  const el = xml('body', { xmlns: NS.HTTPBIND, 'xmlns:stream': NS.STREAM, ...attrs });
  return content === '' ? el.toString() : `${el.openTag()}${content}</body>`;
}

/** §14: a rid is a positive integer below 2^53 (the client starts below 2^53 - 2^32 and counts up by one). */
export function parseRid(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]{1,16}$/.test(value)) return undefined;
  const rid = Number(value);
  return Number.isSafeInteger(rid) && rid > 0 ? rid : undefined;
}

export class BoshConnection implements Connection {
  readonly transport = 'bosh';
  readonly canStartTls = false;
  readonly remoteAddress: string;
  readonly secure: boolean;
  /** Called once when the session is over (terminated, timed out, dropped): the endpoint forgets the sid. */
  onGone: (() => void) | undefined;
  private handlers: FramedHandlers | undefined;
  /** §14: the rid of the next request to process; those below it were received in order. */
  private nextRid: number;
  /** Requests that arrived ahead of a missing one (§14.1: the client may send up to 'requests' at once). */
  private readonly waiting = new Map<number, { body: XmlElement; respond: Respond }>();
  /** Processed requests not answered yet, the oldest first. */
  private readonly held: Held[] = [];
  /** §14.3: the latest responses by rid, for a client that repeats a request whose response it did not get. */
  private readonly responses = new Map<number, string>();
  /** Serialised elements for the client, waiting for a request to carry them. */
  private pending: string[] = [];
  private pendingBytes = 0;
  /** Our stream's header (RFC 6120 §4.7 attributes: id, from): sent as the creation response's authid and from. */
  private streamAttrs: Record<string, string | undefined> = {};
  /** The stream is closing: the next response is the last, <body type='terminate'/>. */
  private closing = false;
  /** XEP-0206 §7: a stream error was written; the terminating body says remote-stream-error. */
  private streamError = false;
  private gone = false;
  private paused = false;
  private flushScheduled = false;
  private inactivityTimer: NodeJS.Timeout | undefined;
  /** §10: the inactivity period the client asked for with its last request, in seconds. */
  private pausedFor: number | undefined;
  /** §12: when the last empty request of a polling session was processed, and whether its response carried nothing. */
  private lastEmptyPoll: number | undefined;
  private lastResponseEmpty = false;
  private lastRequestAt = Date.now();

  constructor(readonly params: BoshSessionParams) {
    this.remoteAddress = params.remoteAddress;
    this.secure = params.secure;
    this.nextRid = params.creationRid;
  }

  /** §11: the number of requests the client may have open at once. */
  get requests(): number {
    return this.params.hold + 1;
  }

  get sid(): string {
    return this.params.sid;
  }

  /** A client with a request held is present; otherwise the time of its last request. */
  get lastActivity(): number {
    return this.held.length > 0 ? Date.now() : this.lastRequestAt;
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  get isGone(): boolean {
    return this.gone;
  }

  setHandlers(handlers: FramedHandlers): void {
    this.handlers = handlers;
  }

  /** The session creation request (§7.1): it opens the stream and is held for the features (XEP-0206 §4). */
  start(body: XmlElement, respond: Respond): void {
    this.waiting.set(this.nextRid, { body, respond });
    this.processInOrder();
  }

  /** A request carrying this session's sid (§14: in rid order; repeats answered from the kept responses). */
  handle(body: XmlElement, respond: Respond): void {
    if (this.gone) return respond(terminateBody('item-not-found'));
    this.lastRequestAt = Date.now();
    const rid = parseRid(body.attrs.rid);
    if (rid === undefined) return this.kill('bad-request', respond);
    // §9.1: the client has every response up to its 'ack'; none of them will be asked for again.
    const ack = this.params.acks ? parseRid(body.attrs.ack) : undefined;
    if (ack !== undefined) for (const r of this.responses.keys()) if (r <= ack) this.responses.delete(r);
    if (rid < this.nextRid) {
      // §14.3: a repeated request (the client's network lost the response): the same response again.
      const cached = this.responses.get(rid);
      if (cached !== undefined) return respond(cached);
      // Still held: the client gave up on the first connection; the answer goes to the new one.
      const held = this.held.find((h) => h.rid === rid);
      if (held) return void (held.respond = respond);
      return this.kill('item-not-found', respond);
    }
    // §14.2: beyond the window of requests the client may have open.
    if (rid >= this.nextRid + this.requests) return this.kill('item-not-found', respond);
    this.waiting.set(rid, { body, respond });
    // §11: more requests open than 'requests' allows.
    if (this.held.length + this.waiting.size > this.requests) return this.kill('policy-violation', respond);
    this.processInOrder();
  }

  private processInOrder(): void {
    while (!this.paused && !this.gone) {
      const next = this.waiting.get(this.nextRid);
      if (!next) return;
      this.waiting.delete(this.nextRid);
      this.process(this.nextRid++, next.body, next.respond);
    }
  }

  private process(rid: number, body: XmlElement, respond: Respond): void {
    const attrs = body.attrs;
    const children = body.children.filter((c): c is XmlElement => c instanceof XmlElement);
    const terminate = attrs.type === 'terminate';
    const restart = attrs['xmpp:restart'] === 'true';
    const now = Date.now();
    clearTimeout(this.inactivityTimer);
    this.pausedFor = undefined;

    // §12: a polling session (hold 0) whose empty requests come faster than 'polling', after an empty response.
    const empty = children.length === 0 && !terminate && !restart && attrs.pause === undefined && rid !== this.params.creationRid;
    if (this.params.hold === 0 && this.params.polling > 0 && empty) {
      if (this.lastEmptyPoll !== undefined && this.lastResponseEmpty && now - this.lastEmptyPoll < this.params.polling * 1000) {
        return this.kill('policy-violation', respond);
      }
      this.lastEmptyPoll = now;
    } else if (!empty) this.lastEmptyPoll = undefined;

    let pause: number | undefined;
    if (attrs.pause !== undefined) {
      pause = Number(attrs.pause);
      // §10: at most the maxpause announced (none announced: no pauses).
      if (!/^[0-9]+$/.test(attrs.pause) || pause > this.params.maxPause) return this.kill('policy-violation', respond);
    }

    const held: Held = { rid, respond, timer: setTimeout(() => this.answer(held), this.params.wait * 1000) };
    held.timer.unref?.();
    this.held.push(held);

    if (this.closing) return this.scheduleFlush();
    if (rid === this.params.creationRid) {
      // XEP-0206 §4: the stream opens with the session; its version is xmpp:version.
      this.handlers?.onOpen({ attrs: this.headerAttrs(attrs) });
    } else if (restart) {
      // XEP-0206 §5: after SASL success the client restarts the stream with an otherwise empty body.
      this.handlers?.onOpen({ attrs: this.headerAttrs(attrs) });
    } else {
      for (const el of children) this.handlers?.onElement(el);
    }
    if (terminate) {
      // §13: the client ends the session, after the stanzas in the same body (its unavailable presence).
      this.handlers?.onClose();
    }
    if (pause !== undefined) {
      // §10: every held request is answered now, and the session may stay without one for `pause` seconds.
      this.pausedFor = pause;
      this.flush(true);
      return;
    }
    this.scheduleFlush();
  }

  private headerAttrs(attrs: Attrs): Attrs {
    const header: Attrs = {};
    const to = attrs.to ?? this.streamAttrs.from;
    if (to !== undefined) header.to = to;
    if (attrs['xml:lang'] !== undefined) header['xml:lang'] = attrs['xml:lang'];
    // XEP-0206 §5: a restart carries no version; the stream keeps the one of the session creation request.
    if (this.params.xmppVersion !== undefined) header.version = this.params.xmppVersion;
    return header;
  }

  // Stanzas written in the same turn travel in one response.
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush(false);
    });
  }

  /**
   * Answers held requests, the oldest first: the first with what is pending, and (§7: at most 'hold' stay held)
   * those beyond 'hold'; all of them when the stream is closing or `all`.
   */
  private flush(all: boolean): void {
    while (this.held.length > 0 && (all || this.closing || this.pending.length > 0 || this.held.length > this.params.hold)) {
      this.answer(this.held[0]!);
    }
  }

  private answer(held: Held): void {
    const i = this.held.indexOf(held);
    if (i === -1 || this.gone) return;
    this.held.splice(i, 1);
    clearTimeout(held.timer);
    const content = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.lastResponseEmpty = content === '';
    const attrs: Record<string, string | undefined> = {};
    if (held.rid === this.params.creationRid) Object.assign(attrs, this.creationAttrs());
    // §9.2: answering an older request than the latest received: say which was the latest.
    else if (this.params.acks && held.rid < this.nextRid - 1) attrs.ack = String(this.nextRid - 1);
    const last = this.closing && !this.held.some((h) => h.rid > held.rid);
    if (this.closing) {
      attrs.type = 'terminate';
      if (this.streamError) attrs.condition = 'remote-stream-error';
    }
    const text = bodyText(attrs, content);
    this.remember(held.rid, text);
    held.respond(text);
    if (last) return this.finish();
    if (this.held.length === 0 && !this.gone) this.startInactivityTimer();
  }

  // §14.3: the last 'requests' responses are kept for repeats.
  private remember(rid: number, text: string): void {
    this.responses.set(rid, text);
    for (const r of this.responses.keys()) if (r <= rid - this.requests) this.responses.delete(r);
  }

  // XEP-0124 §7.2 and XEP-0206 §4: the session's parameters, and the stream's id and version.
  private creationAttrs(): Record<string, string | undefined> {
    const p = this.params;
    return {
      sid: p.sid,
      wait: String(p.wait),
      hold: String(p.hold),
      requests: String(this.requests),
      inactivity: String(p.inactivity),
      polling: p.polling > 0 ? String(p.polling) : undefined,
      maxpause: p.maxPause > 0 ? String(p.maxPause) : undefined,
      ver: p.ver,
      ack: p.acks ? String(p.creationRid) : undefined,
      from: this.streamAttrs.from,
      authid: this.streamAttrs.id,
      'xmlns:xmpp': NS.XBOSH,
      'xmpp:version': '1.0',
      'xmpp:restartlogic': 'true',
    };
  }

  // §7.2: a session with no request held for 'inactivity' seconds (or the pause it asked for) is over.
  private startInactivityTimer(): void {
    clearTimeout(this.inactivityTimer);
    const seconds = this.pausedFor ?? this.params.inactivity;
    this.inactivityTimer = setTimeout(() => this.finish(), seconds * 1000);
    this.inactivityTimer.unref?.();
  }

  /**
   * Ends the session with a terminal binding error (§17.2): held requests and `respond` are answered with it, and
   * the stream loses its transport (XEP-0198 may keep it for a resumption).
   */
  kill(condition: TerminalCondition, respond?: Respond): void {
    const text = terminateBody(condition);
    for (const h of this.held.splice(0)) {
      clearTimeout(h.timer);
      h.respond(text);
    }
    for (const w of this.waiting.values()) w.respond(text);
    this.waiting.clear();
    respond?.(text);
    this.finish();
  }

  private finish(): void {
    if (this.gone) return;
    this.gone = true;
    clearTimeout(this.inactivityTimer);
    for (const h of this.held.splice(0)) {
      clearTimeout(h.timer);
      h.respond(terminateBody());
    }
    for (const w of this.waiting.values()) w.respond(terminateBody('item-not-found'));
    this.waiting.clear();
    this.pending = [];
    this.pendingBytes = 0;
    this.responses.clear();
    this.onGone?.();
    this.handlers?.onTransportClosed();
  }

  // ---- what the stream machine writes ----

  openStream(attrs: Record<string, string | undefined>): void {
    // XEP-0206 §4: no header goes over BOSH; its id and from ride on the creation response.
    this.streamAttrs = attrs;
  }

  send(xmlText: string): void {
    if (this.gone || this.closing) return;
    if (xmlText.startsWith('<stream:error')) this.streamError = true;
    const text = withNamespaces(xmlText);
    this.pending.push(text);
    this.pendingBytes += text.length;
    // A client that stops asking cannot make us keep its stanzas without bound: past the limit its session is
    // dropped, as if its connection broke (it may resume with XEP-0198 and get what it missed).
    if (this.held.length === 0 && this.pending.length > this.params.maxPending) return this.kill('policy-violation');
    this.scheduleFlush();
  }

  closeStream(): void {
    if (this.gone) return;
    this.closing = true;
    this.scheduleFlush();
  }

  restartStream(): void {
    // The next request with xmpp:restart='true' opens the new stream (XEP-0206 §5).
  }

  startTls(): Promise<void> {
    return Promise.reject(new Error('no STARTTLS over BOSH'));
  }

  channelBinding(_type: ChannelBindingType): Buffer | undefined {
    // Every request may come over another HTTP connection: there is no one TLS channel to bind to.
    return undefined;
  }

  keepalive(): void {
    // BOSH keeps itself alive: a held request is answered empty after 'wait' seconds, and the client asks again.
  }

  compact(): void {
    // Bodies are parsed whole, per request: nothing is buffered between them.
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.processInOrder();
  }

  end(): void {
    // The terminating body goes with the next response (closeStream() comes first); a client that never asks
    // again is forgotten after 'inactivity'.
    if (this.gone) return;
    this.closing = true;
    this.scheduleFlush();
    if (this.held.length === 0) this.startInactivityTimer();
  }

  destroy(): void {
    this.kill('undefined-condition');
  }
}
