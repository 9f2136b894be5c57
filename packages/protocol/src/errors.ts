// Errors as values with the RFCs' names (RFC 6120 §4.9.3 stream errors, §8.3.3 stanza errors, §6.5 SASL failures).
import { XmlElement, xml } from './xml/element';
import { NS } from './ns';

export type StreamErrorCondition =
  | 'bad-format' | 'bad-namespace-prefix' | 'conflict' | 'connection-timeout' | 'host-gone' | 'host-unknown'
  | 'improper-addressing' | 'internal-server-error' | 'invalid-from' | 'invalid-namespace' | 'invalid-xml'
  | 'not-authorized' | 'not-well-formed' | 'policy-violation' | 'remote-connection-failed' | 'reset'
  | 'resource-constraint' | 'restricted-xml' | 'see-other-host' | 'system-shutdown' | 'undefined-condition'
  | 'unsupported-encoding' | 'unsupported-feature' | 'unsupported-stanza-type' | 'unsupported-version';

export type StanzaErrorCondition =
  | 'bad-request' | 'conflict' | 'feature-not-implemented' | 'forbidden' | 'gone' | 'internal-server-error'
  | 'item-not-found' | 'jid-malformed' | 'not-acceptable' | 'not-allowed' | 'not-authorized' | 'policy-violation'
  | 'recipient-unavailable' | 'redirect' | 'registration-required' | 'remote-server-not-found'
  | 'remote-server-timeout' | 'resource-constraint' | 'service-unavailable' | 'subscription-required'
  | 'undefined-condition' | 'unexpected-request';

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

export type SaslFailureCondition =
  | 'aborted' | 'account-disabled' | 'credentials-expired' | 'encryption-required' | 'incorrect-encoding'
  | 'invalid-authzid' | 'invalid-mechanism' | 'malformed-request' | 'mechanism-too-weak' | 'not-authorized'
  | 'temporary-auth-failure';

/** RFC 6120 §8.3.3: the usual error type of each condition. */
const DEFAULT_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  'bad-request': 'modify', conflict: 'cancel', 'feature-not-implemented': 'cancel', forbidden: 'auth',
  gone: 'cancel', 'internal-server-error': 'cancel', 'item-not-found': 'cancel', 'jid-malformed': 'modify',
  'not-acceptable': 'modify', 'not-allowed': 'cancel', 'not-authorized': 'auth', 'policy-violation': 'modify',
  'recipient-unavailable': 'wait', redirect: 'modify', 'registration-required': 'auth',
  'remote-server-not-found': 'cancel', 'remote-server-timeout': 'wait', 'resource-constraint': 'wait',
  'service-unavailable': 'cancel', 'subscription-required': 'auth', 'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

export class StanzaError extends Error {
  readonly type: StanzaErrorType;
  constructor(
    readonly condition: StanzaErrorCondition,
    text?: string,
    options: { type?: StanzaErrorType; by?: string; appCondition?: XmlElement; redirect?: string } = {},
  ) {
    super(text ?? condition);
    this.text = text;
    this.type = options.type ?? DEFAULT_TYPE[condition];
    this.by = options.by;
    this.appCondition = options.appCondition;
    this.redirect = options.redirect;
  }
  readonly text: string | undefined;
  readonly by: string | undefined;
  readonly appCondition: XmlElement | undefined;
  readonly redirect: string | undefined;

  toElement(): XmlElement {
    const el = xml('error', { type: this.type, by: this.by });
    el.append(xml(this.condition, { xmlns: NS.STANZAS }, this.redirect ?? null));
    if (this.text) el.append(xml('text', { xmlns: NS.STANZAS, 'xml:lang': 'en' }, this.text));
    if (this.appCondition) el.append(this.appCondition);
    return el;
  }
}

export class StreamError extends Error {
  constructor(
    readonly condition: StreamErrorCondition,
    readonly text?: string,
    /** RFC 6120 §4.9.4: an application-specific condition (e.g. XEP-0198 <handled-count-too-high/>). */
    readonly appCondition?: XmlElement,
  ) {
    super(text ?? condition);
  }

  toElement(): XmlElement {
    const el = xml('stream:error', null, xml(this.condition, { xmlns: NS.STREAMS }));
    if (this.text) el.append(xml('text', { xmlns: NS.STREAMS, 'xml:lang': 'en' }, this.text));
    if (this.appCondition) el.append(this.appCondition);
    return el;
  }
}

export class SaslFailure extends Error {
  constructor(
    readonly condition: SaslFailureCondition,
    readonly text?: string,
  ) {
    super(text ?? condition);
  }

  toElement(): XmlElement {
    const el = xml('failure', { xmlns: NS.SASL }, xml(this.condition));
    if (this.text) el.append(xml('text', { 'xml:lang': 'en' }, this.text));
    return el;
  }
}

/** Reads the condition of an <error/> child, e.g. to decide whether an error may be bounced. */
export function readStanzaError(stanza: XmlElement): { type: string; condition: string; text?: string } | undefined {
  const err = stanza.getChild('error');
  if (!err) return undefined;
  const cond = err.elements().find((c) => c.attrs.xmlns === NS.STANZAS && c.name !== 'text');
  return { type: err.attrs.type ?? '', condition: cond?.name ?? 'undefined-condition', text: err.getChildText('text') };
}
