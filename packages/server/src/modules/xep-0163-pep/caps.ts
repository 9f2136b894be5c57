// XEP-0115 entity capabilities for PEP's filtered notifications (XEP-0163 §4.2): which resources want
// notifications for which nodes ("<node>+notify" features). Caps are recorded from available presence,
// resolved once per verification string by a disco#info query to the client (§6.2), verified (§5.4) and
// cached by ver; an unverifiable answer is only used for the resource that gave it.
import { createHash } from 'node:crypto';
import { NS, xml, type Jid, type XmlElement } from '@parley/protocol';

const NOTIFY = '+notify';

export class CapsTracker {
  /** bare JID → full JID → caps key (`ver`, or `full JID` when unverified). */
  private readonly byBare = new Map<string, Map<string, string>>();
  /** caps key → nodes with +notify. */
  private readonly interests = new Map<string, Set<string>>();
  private readonly pending = new Map<string, Promise<Set<string> | undefined>>();

  constructor(private readonly discoInfo: (full: string, node: string) => Promise<XmlElement>) {}

  /** Records the caps of an available presence; resolves once the resource's interests are known. */
  async update(full: Jid, presence: XmlElement): Promise<void> {
    const c = presence.getChild('c', NS.CAPS);
    const bare = full.toBareString();
    const key = c?.attrs.ver && c.attrs.hash === 'sha-1' ? c.attrs.ver : full.toString();
    let resources = this.byBare.get(bare);
    if (!c?.attrs.ver || !c.attrs.node) {
      resources?.delete(full.toString());
      return;
    }
    if (!resources) this.byBare.set(bare, (resources = new Map()));
    resources.set(full.toString(), key);
    if (this.interests.has(key)) return;
    let p = this.pending.get(key);
    if (!p) {
      p = this.resolve(full.toString(), `${c.attrs.node}#${c.attrs.ver}`, c.attrs.ver, key === c.attrs.ver);
      this.pending.set(key, p);
      void p.finally(() => this.pending.delete(key));
    }
    const nodes = await p;
    if (nodes) this.interests.set(key, nodes);
    // An unverified answer from a resource whose ver another client might share: keep it for this resource only.
    else if (resources.get(full.toString()) === key) resources.delete(full.toString());
  }

  private async resolve(full: string, node: string, ver: string, verify: boolean): Promise<Set<string> | undefined> {
    let reply: XmlElement;
    try {
      reply = await this.discoInfo(full, node);
    } catch {
      return undefined;
    }
    const query = reply.attrs.type === 'result' ? reply.getChild('query', NS.DISCO_INFO) : undefined;
    if (!query) return undefined;
    if (verify && verificationString(query) !== ver) {
      // §5.4: a mismatch must not be cached under that ver; remember it for this full JID instead.
      const resources = this.byBare.get(full.split('/')[0]!);
      resources?.set(full, full);
      this.interests.set(full, notifyNodes(query));
      return undefined;
    }
    return notifyNodes(query);
  }

  forget(full: Jid): void {
    const resources = this.byBare.get(full.toBareString());
    const key = resources?.get(full.toString());
    resources?.delete(full.toString());
    if (key === full.toString()) this.interests.delete(key);
    if (resources?.size === 0) this.byBare.delete(full.toBareString());
  }

  forgetAccount(bare: string): void {
    for (const full of this.byBare.get(bare)?.keys() ?? []) if (this.interests.has(full)) this.interests.delete(full);
    this.byBare.delete(bare);
  }

  /** true / false when the resource's caps are known, undefined when it sent none (or they are unresolved). */
  interested(full: string, node: string, bare = full.split('/')[0]!): boolean | undefined {
    const key = this.byBare.get(bare)?.get(full);
    const nodes = key === undefined ? undefined : this.interests.get(key);
    return nodes === undefined ? undefined : nodes.has(node);
  }

  /** Full JIDs of an account with recorded caps. */
  resources(bare: string): string[] {
    return [...(this.byBare.get(bare)?.keys() ?? [])];
  }
}

function notifyNodes(query: XmlElement): Set<string> {
  const out = new Set<string>();
  for (const f of query.getChildren('feature')) {
    const v = f.attrs.var ?? '';
    if (v.endsWith(NOTIFY)) out.add(v.slice(0, -NOTIFY.length));
  }
  return out;
}

/** XEP-0115 §5.1 verification string, SHA-1, base64. */
export function verificationString(query: XmlElement): string {
  const ids = query
    .getChildren('identity')
    .map((i) => `${i.attrs.category ?? ''}/${i.attrs.type ?? ''}/${i.attrs['xml:lang'] ?? ''}/${i.attrs.name ?? ''}`)
    .sort();
  const features = query.getChildren('feature').map((f) => f.attrs.var ?? '').sort();
  let s = ids.map((i) => i + '<').join('') + features.map((f) => f + '<').join('');
  const forms = query
    .getChildren('x', NS.DATA)
    .map((x) => {
      const fields = x.getChildren('field');
      const type = fields.find((f) => f.attrs.var === 'FORM_TYPE')?.getChildText('value') ?? '';
      const rest = fields
        .filter((f) => f.attrs.var !== 'FORM_TYPE')
        .sort((a, b) => ((a.attrs.var ?? '') < (b.attrs.var ?? '') ? -1 : 1))
        .map((f) => [f.attrs.var ?? '', ...f.getChildren('value').map((v) => v.text()).sort()].map((v) => v + '<').join(''));
      return { type, text: type + '<' + rest.join('') };
    })
    .sort((a, b) => (a.type < b.type ? -1 : 1));
  s += forms.map((f) => f.text).join('');
  return createHash('sha1').update(s, 'utf8').digest('base64');
}

/** The disco#info request for a caps node (§6.2). */
export function capsQuery(from: string, to: string, node: string): XmlElement {
  return xml('iq', { type: 'get', from, to }, xml('query', { xmlns: NS.DISCO_INFO, node }));
}
