// The XEP-0313 query engine over an ArchiveStore, shared by user archives (this module) and MUC room archives
// (xep-0045-muc/mam.ts): pages by XEP-0059 over the store's own order (§3.1: the order messages arrived in,
// never by timestamp alone), sends one <result/> message per item (§4.2) and returns the <fin/> (§4.3).
import { randomBytes } from 'node:crypto';
import { Jid, NS, StanzaError, xml, type XmlElement } from '@parley/protocol';
import type { ArchiveItem, ArchiveQuery, ArchiveStore } from '../../storage/types';
import { parseMamQuery, type MamQuery } from './query-parse';

export { parseMamQuery, queryForm, type MamQuery } from './query-parse';

/** Page size when the client asks for none, and the most a client may ask for (XEP-0313 §4.3.1). */
export const DEFAULT_MAX_PAGE = 100;

/** A 'with' filter in store terms: `with` for the store's own index, `keep` for what it cannot index. */
export interface WithFilter {
  with?: string;
  keep?: (item: ArchiveItem) => boolean;
}

export interface ArchiveTarget {
  store: ArchiveStore;
  owner: string;
  /** The archive's address: the user's bare JID or the room's (§3.3); results come from it. */
  archiveJid: string;
  /** Maps the form's 'with' (§4.1.1); throws StanzaError('forbidden') where the requester may not filter so. */
  resolveWith(jid: Jid): WithFilter;
  /** The <message/> to forward for an item; undefined skips an unreadable one. */
  render(item: ArchiveItem): XmlElement | undefined;
  /** Delivers one result message (addressed already). */
  send(stanza: XmlElement): void | Promise<void>;
  /** Page size cap (module option); defaults to DEFAULT_MAX_PAGE. */
  maxPage?: number;
}

export interface MamPage {
  items: ArchiveItem[];
  complete: boolean;
  count?: number;
}

/** Ids for items appended with an id chosen up front (a MUC broadcast carries its stanza-id before storage). */
export function newArchiveId(): string {
  return randomBytes(12).toString('base64url');
}

/** Turns the store's unknown-id error into XEP-0313 §4.3.2 item-not-found. */
async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code === 'item-not-found') throw new StanzaError('item-not-found', 'no such archived message');
    throw err;
  }
}

/** Fails with item-not-found when the id is not in this archive. */
async function assertExists(store: ArchiveStore, owner: string, id: string): Promise<void> {
  await storeCall(() => store.query(owner, { after: id, limit: 0 }));
}

/** One item by id (#extended single-item retrieval, retraction tombstones), using only the ArchiveStore contract. */
export async function fetchById(store: ArchiveStore, owner: string, id: string): Promise<ArchiveItem> {
  const prev = await storeCall(() => store.query(owner, { before: id, reverse: true, limit: 1 }));
  const p = prev.items[0];
  const r = await store.query(owner, p ? { after: p.id, limit: 1 } : { limit: 1 });
  const item = r.items[0];
  if (!item || item.id !== id) throw new StanzaError('item-not-found', 'no such archived message');
  return item;
}

/** A page of at most `max` items that pass `keep`, scanning on in the query's direction when filtering. */
async function collect(store: ArchiveStore, owner: string, base: ArchiveQuery, max: number, keep?: (i: ArchiveItem) => boolean): Promise<MamPage> {
  if (!keep) return storeCall(() => store.query(owner, { ...base, limit: max }));
  const out: ArchiveItem[] = [];
  let cursor = base;
  for (;;) {
    const r = await storeCall(() => store.query(owner, { ...cursor, limit: Math.max(max + 1, 50) }));
    for (const item of r.items) {
      if (!keep(item)) continue;
      if (out.length === max) return { items: out, complete: false };
      out.push(item);
    }
    const last = r.items.at(-1);
    if (r.complete || !last) return { items: out, complete: true };
    cursor = base.reverse ? { ...cursor, before: last.id } : { ...cursor, after: last.id };
  }
}

/** Runs a parsed query; items come back oldest first. */
export async function runMamQuery(target: ArchiveTarget, q: MamQuery): Promise<MamPage> {
  const { store, owner } = target;
  const cap = target.maxPage ?? DEFAULT_MAX_PAGE;
  // §4.3.1: the server may limit a page; a larger <max/> is clamped to our cap.
  const max = Math.min(q.max ?? cap, cap);
  const filter = q.with ? target.resolveWith(q.with) : {};
  const inRange = (i: ArchiveItem) =>
    (q.start === undefined || i.when >= q.start) &&
    (q.end === undefined || i.when <= q.end) &&
    (filter.with === undefined || i.with === filter.with) &&
    (filter.keep === undefined || filter.keep(i));
  if (q.ids) {
    // #extended §4.1.3: the named items, each of which must exist; other filters still apply.
    const items: ArchiveItem[] = [];
    for (const id of q.ids) {
      const item = await fetchById(store, owner, id);
      if (inRange(item)) items.push(item);
    }
    return { items: items.slice(0, max), complete: items.length <= max };
  }
  // RSM <after/>/<before/> and the #extended before-id/after-id bound the same range; every id named must exist.
  if (q.after !== undefined && q.afterId !== undefined) await assertExists(store, owner, q.afterId);
  if (q.before && q.beforeId !== undefined) await assertExists(store, owner, q.beforeId);
  const base: ArchiveQuery = {
    with: filter.with,
    start: q.start,
    end: q.end,
    after: q.after ?? q.afterId,
    before: q.before || q.beforeId,
    // XEP-0059 §2.3 / §2.5: <before/> pages backwards from the end (or from an item).
    reverse: q.before !== undefined,
  };
  for (const k of Object.keys(base) as (keyof ArchiveQuery)[]) if (base[k] === undefined) delete base[k];
  const page = await collect(store, owner, base, max, filter.keep);
  if (base.reverse) page.items.reverse();
  // XEP-0059 §2.7: the size of the whole result set, when the store can tell it without scanning.
  if (!filter.keep && q.afterId === undefined && q.beforeId === undefined) {
    page.count = await store.count(owner, { with: base.with, start: base.start, end: base.end });
  }
  return page;
}

/** §4.2: <result/> wrapping the forwarded message (XEP-0297) with its XEP-0203 delay stamp. */
export function resultMessage(item: ArchiveItem, forwarded: XmlElement, from: string, to: string, queryid?: string): XmlElement {
  return xml(
    'message',
    { from, to, id: newArchiveId() },
    xml(
      'result',
      { xmlns: NS.MAM, queryid, id: item.id },
      xml('forwarded', { xmlns: NS.FORWARD }, xml('delay', { xmlns: NS.DELAY, stamp: new Date(item.when).toISOString() }), forwarded),
    ),
  );
}

/** §4.3: <fin/> with the RSM summary; complete='true' once no page is left in the paging direction. */
export function finElement(page: MamPage): XmlElement {
  const set = xml('set', { xmlns: NS.RSM });
  const first = page.items[0];
  const last = page.items.at(-1);
  if (first && last) set.append(xml('first', null, first.id), xml('last', null, last.id));
  if (page.count !== undefined) set.append(xml('count', null, String(page.count)));
  return xml('fin', { xmlns: NS.MAM, complete: page.complete ? 'true' : 'false' }, set);
}

/** Answers an iq set <query/>: sends the results to `to` (the requester's full JID), returns the <fin/>. */
export async function answerMamQuery(target: ArchiveTarget, query: XmlElement, to: string): Promise<XmlElement> {
  const q = parseMamQuery(query);
  const page = await runMamQuery(target, q);
  // #extended §4.3.4 flip-page: transmission order only; first/last still name the page's oldest and newest.
  const order = q.flip ? [...page.items].reverse() : page.items;
  for (const item of order) {
    const forwarded = target.render(item);
    if (forwarded) await target.send(resultMessage(item, forwarded, target.archiveJid, to, q.queryid));
  }
  return finElement(page);
}

/** #extended §5: the first and last items of the archive. */
export async function archiveMetadata(store: ArchiveStore, owner: string): Promise<XmlElement> {
  const md = xml('metadata', { xmlns: NS.MAM });
  const [first] = (await store.query(owner, { limit: 1 })).items;
  const [last] = (await store.query(owner, { limit: 1, reverse: true })).items;
  if (first && last) {
    md.append(xml('start', { id: first.id, timestamp: new Date(first.when).toISOString() }));
    md.append(xml('end', { id: last.id, timestamp: new Date(last.when).toISOString() }));
  }
  return md;
}

/** XEP-0359 security considerations: a stanza-id 'by' an archive of ours was put there by someone else; drop it. */
export function stripStanzaIds(stanza: XmlElement, by: string): void {
  stanza.children = stanza.children.filter(
    (c) =>
      typeof c === 'string' ||
      c.name !== 'stanza-id' ||
      (c.attrs.xmlns ?? stanza.attrs.xmlns) !== NS.STANZA_ID ||
      (c.attrs.by !== by && Jid.tryParse(c.attrs.by)?.toString() !== by),
  );
}

export function stanzaId(id: string, by: string): XmlElement {
  return xml('stanza-id', { xmlns: NS.STANZA_ID, id, by });
}
