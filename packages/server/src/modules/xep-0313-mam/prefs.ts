// XEP-0441 (split out of XEP-0313 0.7, same urn:xmpp:mam:2 namespace): per-user archiving preferences —
// a default ('always', 'never', 'roster': only contacts in the roster) and JIDs always or never archived.
import { Jid, NS, StanzaError, xml, type XmlElement } from '@parley/protocol';
import type { KeyValueStore, MapStore } from '../../storage/types';

export type DefaultPolicy = 'always' | 'never' | 'roster';
export const POLICIES: readonly DefaultPolicy[] = ['always', 'never', 'roster'];

export interface Prefs {
  default: DefaultPolicy;
  always: string[];
  never: string[];
}

/** The roster module's stored item (read only; we need membership, nothing else). */
interface RosterEntry {
  visible?: boolean;
}

export class ArchivePrefs {
  /** Every archived message asks for both parties' preferences; they change rarely, so they are cached. */
  private readonly cache = new Map<string, Prefs>();

  constructor(
    private readonly store: KeyValueStore<Prefs>,
    private readonly roster: MapStore<RosterEntry>,
    private readonly fallback: DefaultPolicy,
    /** Told after preferences were written (cluster nodes caching them drop their copy). */
    private readonly changed: (owner: string) => void = () => {},
  ) {}

  /** Another node changed these preferences in storage: read them again on next use. */
  forget(owner: string): void {
    this.cache.delete(owner);
  }

  async get(owner: string): Promise<Prefs> {
    const cached = this.cache.get(owner);
    if (cached) return cached;
    const prefs = (await this.store.get(owner)) ?? { default: this.fallback, always: [], never: [] };
    if (this.cache.size >= 100_000) this.cache.clear();
    this.cache.set(owner, prefs);
    return prefs;
  }

  async set(owner: string, prefs: Prefs | undefined): Promise<void> {
    this.cache.delete(owner);
    await this.store.set(owner, prefs);
    this.cache.delete(owner);
    this.changed(owner);
  }

  /** XEP-0441 §2: a bare JID in a list matches every resource, a full JID only itself; 'never' wins over 'always'. */
  async shouldArchive(owner: string, other: Jid): Promise<boolean> {
    const p = await this.get(owner);
    const listed = (list: string[]) => list.includes(other.toBareString()) || list.includes(other.toString());
    if (listed(p.never)) return false;
    if (listed(p.always)) return true;
    if (p.default === 'always') return true;
    if (p.default === 'never') return false;
    // 'roster': the user's own other resources count as known too.
    if (other.toBareString() === owner) return true;
    const entry = await this.roster.get(owner, other.toBareString());
    return entry !== undefined && entry.visible !== false;
  }
}

export function prefsElement(p: Prefs): XmlElement {
  const list = (name: string, jids: string[]) => xml(name, null, ...jids.map((j) => xml('jid', null, j)));
  return xml('prefs', { xmlns: NS.MAM, default: p.default }, list('always', p.always), list('never', p.never));
}

/** XEP-0441 §2.2: a set replaces the preferences; 'default' is required, the lists are optional. */
export function parsePrefs(el: XmlElement): Prefs {
  const d = el.attrs.default as DefaultPolicy | undefined;
  if (d === undefined || !POLICIES.includes(d)) throw new StanzaError('bad-request', `default must be one of ${POLICIES.join(', ')}`);
  const jids = (name: string): string[] => {
    const out: string[] = [];
    for (const j of el.getChild(name)?.getChildren('jid') ?? []) {
      const jid = Jid.tryParse(j.text().trim());
      if (!jid) throw new StanzaError('jid-malformed', `invalid JID in <${name}/>`);
      if (!out.includes(jid.toString())) out.push(jid.toString());
    }
    return out;
  };
  return { default: d, always: jids('always'), never: jids('never') };
}
