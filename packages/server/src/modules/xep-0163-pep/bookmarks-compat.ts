// XEP-0402 §5.2 compatibility with XEP-0048 in PEP: the legacy node 'storage:bookmarks' (one item 'current'
// holding <storage xmlns='storage:bookmarks'/>) and 'urn:xmpp:bookmarks:1' (one item per room, id = room JID)
// mirror each other, so an old and a new client of one account see the same bookmarks. Conversions run after
// a client's publish or retract on either node; the mirrored writes go straight to the engine (no loop).
import { Jid, NS, formElement, parseXml, xml, type XmlElement } from '@parley/protocol';
import type { PubSubEngine } from '../xep-0060-pubsub/engine';

interface Bookmark {
  jid: string;
  name?: string;
  autojoin: boolean;
  nick?: string;
  password?: string;
}

/** XEP-0402 §3: bookmarks are private (whitelist) and unlimited ("max"). */
function privateOptions(maxItems: 'max' | '1'): XmlElement {
  return formElement({
    type: 'submit',
    fields: [
      { var: 'FORM_TYPE', type: 'hidden', values: [NS.PUBSUB_PUBLISH_OPTIONS] },
      { var: 'pubsub#persist_items', values: ['true'] },
      { var: 'pubsub#access_model', values: ['whitelist'] },
      { var: 'pubsub#max_items', values: [maxItems] },
    ],
  });
}

const isTrue = (v: string | undefined) => v === 'true' || v === '1';

function fromConference2(id: string, c: XmlElement): Bookmark {
  return { jid: id, name: c.attrs.name, autojoin: isTrue(c.attrs.autojoin), nick: c.getChildText('nick'), password: c.getChildText('password') };
}

function fromLegacy(storage: XmlElement): Bookmark[] {
  return storage.getChildren('conference').filter((c) => c.attrs.jid).map((c) => ({
    jid: c.attrs.jid!, name: c.attrs.name, autojoin: isTrue(c.attrs.autojoin), nick: c.getChildText('nick'), password: c.getChildText('password'),
  }));
}

function conference2(b: Bookmark): XmlElement {
  return xml(
    'conference',
    { xmlns: NS.BOOKMARKS2, name: b.name, autojoin: b.autojoin ? 'true' : undefined },
    b.nick !== undefined ? xml('nick', null, b.nick) : null,
    b.password !== undefined ? xml('password', null, b.password) : null,
  );
}

function legacyConference(b: Bookmark): XmlElement {
  return xml(
    'conference',
    { jid: b.jid, name: b.name, autojoin: b.autojoin ? 'true' : 'false' },
    b.nick !== undefined ? xml('nick', null, b.nick) : null,
    b.password !== undefined ? xml('password', null, b.password) : null,
  );
}

const same = (a: Bookmark, b: Bookmark) => JSON.stringify(a) === JSON.stringify(b);

export class BookmarksCompat {
  constructor(private readonly engine: PubSubEngine) {}

  async changed(service: string, node: string, actor: Jid): Promise<void> {
    if (node === NS.BOOKMARKS2) await this.toLegacy(service, actor);
    else if (node === NS.BOOKMARKS) await this.toModern(service, actor);
  }

  private async modern(service: string): Promise<Map<string, Bookmark>> {
    const out = new Map<string, Bookmark>();
    if (!(await this.engine.nodes.get(service, NS.BOOKMARKS2))) return out;
    for (const item of (await this.engine.items.items(service, NS.BOOKMARKS2)).values()) {
      if (!item.payload) continue;
      const el = parseXml(item.payload);
      if (el.name === 'conference') out.set(item.id, fromConference2(item.id, el));
    }
    return out;
  }

  /** urn:xmpp:bookmarks:1 → storage:bookmarks 'current', keeping the legacy URLs. */
  private async toLegacy(service: string, actor: Jid): Promise<void> {
    const bookmarks = await this.modern(service);
    const legacyNode = await this.engine.nodes.get(service, NS.BOOKMARKS);
    let urls: XmlElement[] = [];
    if (legacyNode) {
      const last = await this.engine.items.last(service, NS.BOOKMARKS);
      if (last?.payload) urls = parseXml(last.payload).getChildren('url');
    }
    const storage = xml('storage', { xmlns: NS.BOOKMARKS }, ...[...bookmarks.values()].map(legacyConference), ...urls);
    await this.engine.publish(service, actor, NS.BOOKMARKS, xml('item', { id: 'current' }, storage), legacyNode ? undefined : privateOptions('1'));
  }

  /** storage:bookmarks → one urn:xmpp:bookmarks:1 item per room: publish new and changed, retract removed. */
  private async toModern(service: string, actor: Jid): Promise<void> {
    const last = await this.engine.items.last(service, NS.BOOKMARKS);
    const storage = last?.payload ? parseXml(last.payload) : undefined;
    const wanted = storage?.name === 'storage' ? fromLegacy(storage) : [];
    const current = await this.modern(service);
    const exists = (await this.engine.nodes.get(service, NS.BOOKMARKS2)) !== undefined;
    for (const b of wanted) {
      const have = current.get(b.jid);
      if (have && same(have, b)) continue;
      try {
        Jid.parse(b.jid);
      } catch {
        continue;
      }
      await this.engine.publish(service, actor, NS.BOOKMARKS2, xml('item', { id: b.jid }, conference2(b)), exists ? undefined : privateOptions('max'));
    }
    for (const id of current.keys()) {
      if (!wanted.some((b) => b.jid === id)) await this.engine.retract(service, actor, NS.BOOKMARKS2, id, true);
    }
  }
}
