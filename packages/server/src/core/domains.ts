// The domains this server answers for: the main host (accounts live there) and services on sub-domains
// (conference., pubsub., …). Each has its own iq table and disco registry; services also get a stanza handler.
// External components (XEP-0114, core/components.ts) are domains too, whose every stanza goes to their handler.
import { xml, type XmlElement } from '@parley/protocol';
import { IqTable } from './iq';
import type { StanzaEvent } from './events';

export interface Identity {
  category: string;
  type: string;
  name?: string;
}

export interface DiscoItem {
  jid: string;
  name?: string;
  node?: string;
}

/** What disco#info (XEP-0030) reports for one entity. */
export class DiscoInfo {
  readonly identities: Identity[] = [];
  readonly features = new Set<string>();
  /** XEP-0128 extended info forms, built on demand. */
  readonly forms: (() => XmlElement)[] = [];

  toQuery(node?: string): XmlElement {
    const q = xml('query', { xmlns: 'http://jabber.org/protocol/disco#info', node });
    for (const id of this.identities) q.append(xml('identity', { category: id.category, type: id.type, name: id.name }));
    for (const f of [...this.features].sort()) q.append(xml('feature', { var: f }));
    for (const form of this.forms) q.append(form());
    return q;
  }
}

export type ServiceHandler = (event: StanzaEvent) => void | Promise<void>;

export class HostedDomain {
  readonly iq = new IqTable();
  /** disco#info of the domain itself. */
  readonly info = new DiscoInfo();
  /** disco#info features every account on this domain has (XEP-0030 §3.1 on a bare JID), main host only. */
  readonly accountInfo = new DiscoInfo();
  /** disco#items of the domain (the main host lists its services). */
  readonly items: DiscoItem[] = [];
  /** Services: handles stanzas the iq table did not take; components: every stanza. */
  handler: ServiceHandler | undefined;
  /**
   * Services only, in a cluster: 'service' keeps the whole service on one node; 'entity' places each entity
   * (a MUC room: the local part of its JID) on a node of its own, spreading rooms over the cluster.
   */
  affinity: 'service' | 'entity' = 'service';

  constructor(
    readonly name: string,
    readonly kind: 'main' | 'service' | 'component',
  ) {}
}
