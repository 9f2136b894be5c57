// RFC 6120 §8.2.3: every iq get/set gets exactly one response. Handlers return the result payload (or
// nothing for an empty result) or throw a StanzaError; the dispatcher turns either into the one reply.
import { StanzaError, iqPayload, type Jid, type XmlElement } from '@parley/protocol';
import type { Origin } from './events';
import type { Session } from './sessions';
import type { Disposable } from './hooks';

export type IqTarget = 'host' | 'bare' | 'full';

export interface IqRequest {
  stanza: XmlElement;
  payload: XmlElement;
  from: Jid;
  to: Jid;
  origin: Origin;
  /** The sending client session, when the iq came from one of ours. */
  session: Session | undefined;
  /** The request addresses the sender's own account (to its bare JID, or without 'to'). */
  isSelf: boolean;
}

/** Returning an element puts it inside the result; returning null/undefined sends an empty result. */
export type IqHandler = (req: IqRequest) => XmlElement | null | undefined | void | Promise<XmlElement | null | undefined | void>;

export class IqTable {
  private readonly handlers = new Map<string, IqHandler>();

  private static key(type: 'get' | 'set', target: IqTarget, ns: string, name: string): string {
    return `${type}|${target}|${ns}|${name}`;
  }

  register(type: 'get' | 'set', ns: string, name: string, targets: IqTarget[], handler: IqHandler): Disposable {
    const keys = targets.map((t) => IqTable.key(type, t, ns, name));
    for (const k of keys) {
      if (this.handlers.has(k)) throw new Error(`iq handler already registered: ${k}`);
      this.handlers.set(k, handler);
    }
    return { dispose: () => keys.forEach((k) => this.handlers.get(k) === handler && this.handlers.delete(k)) };
  }

  lookup(stanza: XmlElement, target: IqTarget): IqHandler | undefined {
    const type = stanza.attrs.type;
    if (type !== 'get' && type !== 'set') return undefined;
    const payload = iqPayload(stanza);
    if (!payload) return undefined;
    return this.handlers.get(IqTable.key(type, target, payload.attrs.xmlns ?? '', payload.name));
  }
}

export function badRequest(text: string): StanzaError {
  return new StanzaError('bad-request', text);
}
