// XEP-0388 Extensible SASL Profile on a client stream: <authenticate/> with an initial response, the client's
// <user-agent/> and inline feature requests; <challenge/>/<response/>; <success/> carrying the additional data, the
// authorization identifier and what the inline features negotiated; <failure/> with an RFC 6120 §6.5 condition;
// <abort/>. The mechanisms, their TLS policy and the limits on failed attempts are the classic profile's
// (SaslNegotiation), so a client gets the same mechanisms and the same number of guesses whichever profile it uses.
// Not offered: <continue/> tasks (second factors, SCRAM hash upgrades), which no mechanism here asks for.
import { Jid, NS, SaslFailure, xml, type XmlElement } from '@parley/protocol';
import type { ParleyServer } from '../core/server';
import type { Session } from '../core/sessions';
import type { ClientStream } from '../core/client-stream';
import type {
  InlineResult, Sasl2Attempt, Sasl2Authenticated, Sasl2InlineFeature, Sasl2Stream, UserAgent,
} from '../core/sasl2-inline';
import type { SaslNegotiation } from './sasl-negotiation';
import type { SaslExchange, SaslMechanism } from './sasl/types';

/** What the negotiation needs from its stream to bind a resource during authentication (XEP-0386). */
export interface Sasl2Binder {
  /** The stream as a session: modules keep per-session state on it before it is bound. */
  readonly session: Session;
  /**
   * Claims `resource` for the account on this stream without entering the session table yet (the stream does that
   * once <success/> is written, so nothing reaches the client before it). Throws SaslFailure.
   */
  bind(account: Jid, resource: string): Jid;
}

export interface Sasl2Outcome {
  /** <challenge/>, <success/> or <failure/>. */
  reply: XmlElement;
  /** Set on success. */
  username?: string;
  /** The full JID a feature bound the stream to during authentication (Bind 2), if any. */
  bound?: Jid;
  /** XEP-0198: the earlier session the stream continues as, and what to do once <success/> is written. */
  resumed?: { session: ClientStream; then: () => void };
  /** Too many failures: the stream should be closed. */
  disconnect?: boolean;
}

interface Attempt extends Sasl2Attempt {
  exchange: SaslExchange;
  /** The client's elements per inline feature, in InlineOrder; features it did not address are absent. */
  inline: Map<Sasl2InlineFeature, XmlElement[]>;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Bounds on <user-agent/> (XEP-0388 sets none): an identifier, not a document. */
const MAX_USER_AGENT_ID = 256;
const MAX_USER_AGENT_TEXT = 1024;

export class Sasl2Negotiation {
  private attempt: Attempt | undefined;

  constructor(
    private readonly server: ParleyServer,
    private readonly sasl: SaslNegotiation,
    private readonly stream: Sasl2Stream,
    private readonly binder: Sasl2Binder,
  ) {}

  /** XEP-0388 §2.4: while an exchange runs, the client may send nothing but <response/> or <abort/>. */
  get inProgress(): boolean {
    return this.attempt !== undefined;
  }

  /**
   * XEP-0388 §2.1: the <authentication/> feature with the classic mechanisms and the inline features, or undefined
   * when SASL2 is off or there is no mechanism to offer (it MUST NOT be offered then).
   */
  feature(): XmlElement | undefined {
    if (!this.server.inline.isSasl2Offered) return undefined;
    const mechanisms = this.sasl.offered();
    if (mechanisms.length === 0) return undefined;
    const inline = xml('inline');
    for (const f of this.server.inline.sasl2Features()) inline.append(f.advertise(this.stream));
    return xml(
      'authentication',
      { xmlns: NS.SASL2 },
      ...mechanisms.map((m) => xml('mechanism', null, m)),
      inline.children.length > 0 ? inline : null,
    );
  }

  /** One of <authenticate/>, <response/>, <abort/>; never throws a SaslFailure (it becomes the reply). */
  async handle(el: XmlElement): Promise<Sasl2Outcome> {
    const cbRejectedBefore = this.sasl.context.channelBindingRejected === true;
    try {
      return await this.step(el);
    } catch (err) {
      if (!(err instanceof SaslFailure)) throw err;
      this.attempt = undefined;
      return { reply: failureElement(err), disconnect: this.sasl.countFailure(err, cbRejectedBefore) };
    }
  }

  private async step(el: XmlElement): Promise<Sasl2Outcome> {
    switch (el.name) {
      case 'abort':
        // XEP-0388 §4.5 (Aborting): the attempt ends; the stream stays unauthenticated.
        throw new SaslFailure('aborted');
      case 'authenticate': {
        this.attempt = undefined;
        this.sasl.beginAttempt(el.attrs.mechanism);
        if (this.sasl.isRateLimited()) throw new SaslFailure('temporary-auth-failure', 'too many failed attempts, try again later');
        const attempt = this.begin(el);
        this.attempt = attempt;
        const ir = el.getChild('initial-response', NS.SASL2);
        // §2.2: an absent <initial-response/> is no initial response; an empty one is an empty response.
        return await this.advance(attempt, ir ? decode(ir.text()) : null);
      }
      case 'response':
        if (!this.attempt) throw new SaslFailure('malformed-request', 'no authentication in progress');
        return await this.advance(this.attempt, decode(el.text()));
      default:
        throw new SaslFailure('malformed-request', `<${el.name}/> is not a SASL2 request`);
    }
  }

  private begin(el: XmlElement): Attempt {
    const mechanism = el.attrs.mechanism;
    if (!mechanism) throw new SaslFailure('malformed-request', "<authenticate/> needs a 'mechanism' attribute");
    const info: Sasl2Attempt = { stream: this.stream, mechanism, userAgent: parseUserAgent(el), request: el };
    const inline = new Map<Sasl2InlineFeature, XmlElement[]>();
    let chosen: SaslMechanism | undefined;
    for (const feature of this.server.inline.sasl2Features()) {
      const elements = el.elements().filter((c) => c.attrs.xmlns === feature.ns);
      const picked = feature.prepare?.(elements, info);
      if (picked) {
        if (chosen) throw new SaslFailure('malformed-request', 'inline features ask for different mechanisms');
        chosen = picked;
      }
      if (elements.length > 0) inline.set(feature, elements);
    }
    // §2.3: a mechanism the server did not announce fails the attempt.
    const mech = chosen ?? this.sasl.mechanism(mechanism);
    if (!mech || mech.name !== mechanism || !mech.isAvailable(this.sasl.context)) throw new SaslFailure('invalid-mechanism');
    return { ...info, exchange: mech.start(this.sasl.context), inline };
  }

  private async advance(attempt: Attempt, response: Buffer | null): Promise<Sasl2Outcome> {
    const result = await attempt.exchange.step(response);
    if (result.kind === 'challenge') {
      return { reply: xml('challenge', { xmlns: NS.SASL2 }, result.data.length > 0 ? result.data.toString('base64') : null) };
    }
    this.attempt = undefined;
    await this.server.accounts.assertMayLogIn(result.username);
    this.sasl.succeeded(result.username);
    const account = Jid.of(result.username, this.server.domain);
    let bound: Jid | undefined;
    let resumed: Sasl2Outcome['resumed'];
    const auth: Sasl2Authenticated = {
      stream: attempt.stream,
      mechanism: attempt.mechanism,
      userAgent: attempt.userAgent,
      request: attempt.request,
      username: result.username,
      account,
      session: this.binder.session,
      get bound() {
        return bound;
      },
      bind: (resource) => {
        if (bound) throw new Error(`the stream is already bound to ${bound.toString()}`);
        bound = this.binder.bind(account, resource);
        return bound;
      },
      resume: (session, then) => {
        if (bound) throw new Error(`the stream is already bound to ${bound.toString()}`);
        bound = session.jid;
        resumed = { session, then };
        return bound;
      },
    };
    // §2.6.1: inline features requested by the client are processed now, and their results go into <success/>.
    const results: XmlElement[] = [];
    for (const [feature, elements] of attempt.inline) {
      if (feature.negotiate) results.push(...asElements(await feature.negotiate(elements, auth)));
    }
    const success = xml(
      'success',
      { xmlns: NS.SASL2 },
      result.additional !== undefined ? xml('additional-data', null, result.additional.toString('base64')) : null,
      // §2.6.1: the negotiated identity, a full JID once a resource is bound.
      xml('authorization-identifier', null, (bound ?? account).toString()),
      ...results,
    );
    // A resumed session is in the table already: the stream hands its transport over instead of binding.
    if (resumed) return { reply: success, username: result.username, resumed };
    return { reply: success, username: result.username, bound };
  }
}

/** XEP-0388 §2.6.2: the RFC 6120 §6.5 condition (in its SASL namespace) and an optional <text/>. */
export function failureElement(err: SaslFailure): XmlElement {
  return xml(
    'failure',
    { xmlns: NS.SASL2 },
    xml(err.condition, { xmlns: NS.SASL }),
    err.text ? xml('text', { 'xml:lang': 'en' }, err.text) : null,
  );
}

function asElements(result: InlineResult): XmlElement[] {
  if (!result) return [];
  return Array.isArray(result) ? result : [result];
}

/** §2.2: plain base64, no '=' convention (an empty element is empty data); whitespace is tolerated. */
function decode(text: string): Buffer {
  const t = text.replace(/\s+/g, '');
  if (!BASE64.test(t) || t.length % 4 !== 0) throw new SaslFailure('incorrect-encoding');
  return Buffer.from(t, 'base64');
}

/** §2.3: <user-agent id='…'><software/><device/></user-agent>; every part optional. */
function parseUserAgent(el: XmlElement): UserAgent | undefined {
  const ua = el.getChild('user-agent', NS.SASL2);
  if (!ua) return undefined;
  const id = ua.attrs.id;
  const software = ua.getChildText('software', NS.SASL2);
  const device = ua.getChildText('device', NS.SASL2);
  if (id !== undefined && (id.length === 0 || id.length > MAX_USER_AGENT_ID)) {
    throw new SaslFailure('malformed-request', `the user-agent id must have 1 to ${MAX_USER_AGENT_ID} characters`);
  }
  if ((software?.length ?? 0) > MAX_USER_AGENT_TEXT || (device?.length ?? 0) > MAX_USER_AGENT_TEXT) {
    throw new SaslFailure('malformed-request', 'user-agent software or device is too long');
  }
  return { id, software, device };
}
