// Avatars: contacts' pictures from XEP-0084 (PEP user avatar, data node by the hash) with the vCard (XEP-0054 PHOTO,
// XEP-0153) as fallback, found through the hash that presence carries (XEP-0153 §4.1; Parley adds it for clients
// that do not, and XEP-0398 keeps PEP and vCard avatars one). Pictures are cached by hash in memory and IndexedDB,
// only after checking that the bytes hash to it (avatar-data.ts). Setting our own: a 192 px PNG, published as data
// first and metadata second (XEP-0084 §4.1 then §4.2), so that nobody is told of an avatar they cannot fetch yet.
import { xml, type Client, type Element } from '@xmpp/client';
import { NS } from '@parley/protocol';
import type { Store } from '../state/store';
import { encodeBase64, isSha1Hex, sha1Hex, verifiedAvatarUrl } from './avatar-data';

/** XEP-0084 §4.2: 96–192 px; 192 looks sharp on phones with dense screens. */
export const OWN_AVATAR_SIZE = 192;
const DB_NAME = 'parley-avatars';
const STORE_NAME = 'avatars';

/** Avatars by hash: memory first, IndexedDB across reloads (absent in some private modes: memory only then). */
class AvatarCache {
  private readonly memory = new Map<string, string>();
  private db?: Promise<IDBDatabase | undefined>;

  private open(): Promise<IDBDatabase | undefined> {
    this.db ??= new Promise((resolve) => {
      try {
        const req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = () => req.result.createObjectStore(STORE_NAME);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => resolve(undefined);
      } catch {
        resolve(undefined);
      }
    });
    return this.db;
  }

  async get(hash: string): Promise<string | undefined> {
    const hit = this.memory.get(hash);
    if (hit) return hit;
    const db = await this.open();
    if (!db) return undefined;
    const url = await new Promise<string | undefined>((resolve) => {
      const req = db.transaction(STORE_NAME, 'readonly').objectStore(STORE_NAME).get(hash);
      req.onsuccess = () => resolve(typeof req.result === 'string' ? req.result : undefined);
      req.onerror = () => resolve(undefined);
    });
    if (url) this.memory.set(hash, url);
    return url;
  }

  async put(hash: string, url: string): Promise<void> {
    this.memory.set(hash, url);
    const db = await this.open();
    if (!db) return;
    db.transaction(STORE_NAME, 'readwrite').objectStore(STORE_NAME).put(url, hash);
  }
}

export class Avatars {
  private readonly cache = new AvatarCache();
  /** The hash each contact's presence announced last, so a picture is fetched once per change. */
  private readonly announced = new Map<string, string>();
  /** Our own avatar's hash once known: put into our presence (XEP-0153 §4.2). */
  private ownHash?: string;

  constructor(
    private readonly store: Store,
    private readonly xmpp: () => Client | undefined,
  ) {}

  /** XEP-0153 §4.3: a contact's presence names its avatar's hash; an empty <photo/> means none. */
  onPresence(el: Element, bare: string): void {
    if (el.attrs.type !== undefined) return;
    // Only contacts (and our own other devices): a stranger's directed presences must not make us fetch at will.
    if (!this.store.state.contacts[bare] && bare !== this.store.state.me) return;
    const photo = el.getChild('x', NS.VCARD_UPDATE)?.getChild('photo');
    if (!photo) return; // §4.1 rule 2: not advertised (yet): keep what we have
    const hash = photo.text().trim().toLowerCase();
    if (this.announced.get(bare) === hash) return;
    this.announced.set(bare, hash);
    if (hash === '') this.show(bare, undefined);
    else if (isSha1Hex(hash)) void this.load(bare, hash);
  }

  /** Our own avatar after logging in: the hash from our PEP metadata, else from our vCard. */
  async loadOwn(me: string): Promise<void> {
    const xmpp = this.xmpp();
    if (!xmpp) return;
    try {
      const res = await xmpp.iqCaller.request(
        xml('iq', { type: 'get', to: me }, xml('pubsub', { xmlns: NS.PUBSUB }, xml('items', { node: NS.AVATAR_METADATA, max_items: '1' }))),
        10000,
      );
      const info = res.getChild('pubsub', NS.PUBSUB)?.getChild('items')?.getChild('item')?.getChild('metadata', NS.AVATAR_METADATA)?.getChild('info');
      const hash = info?.attrs.id?.toLowerCase();
      if (hash && isSha1Hex(hash)) {
        this.ownHash = hash;
        await this.load(me, hash, info?.attrs.type);
        return;
      }
    } catch {
      // no avatar published (item-not-found): try the vCard
    }
    await this.load(me, undefined);
  }

  /** The XEP-0153 element for our presence, when we know our avatar (the server adds it otherwise). */
  presenceUpdate(): Element | undefined {
    return this.ownHash === undefined ? undefined : xml('x', { xmlns: NS.VCARD_UPDATE }, xml('photo', {}, this.ownHash || undefined));
  }

  private show(bare: string, url: string | undefined): void {
    this.store.update((s) => {
      if (s.avatars[bare] === url) return s;
      const avatars = { ...s.avatars };
      if (url) avatars[bare] = url;
      else delete avatars[bare];
      return { ...s, avatars };
    });
  }

  /** The picture with `hash` for `bare`: cache, then PEP data (XEP-0084 §5.2), then the vCard (XEP-0153 §3.2). */
  private async load(bare: string, hash: string | undefined, type?: string): Promise<void> {
    if (hash) {
      const cached = await this.cache.get(hash);
      if (cached) return this.show(bare, cached);
    }
    const url = (hash ? await this.fromPep(bare, hash, type) : undefined) ?? (await this.fromVcard(bare, hash));
    if (url) this.show(bare, url);
  }

  private async fromPep(bare: string, hash: string, type = 'image/png'): Promise<string | undefined> {
    const xmpp = this.xmpp();
    if (!xmpp) return undefined;
    try {
      const res = await xmpp.iqCaller.request(
        xml('iq', { type: 'get', to: bare }, xml('pubsub', { xmlns: NS.PUBSUB }, xml('items', { node: NS.AVATAR_DATA }, xml('item', { id: hash })))),
        15000,
      );
      const data = res.getChild('pubsub', NS.PUBSUB)?.getChild('items')?.getChild('item')?.getChild('data', NS.AVATAR_DATA);
      const url = data ? await verifiedAvatarUrl(data.text(), hash, type) : undefined;
      if (url) await this.cache.put(hash, url);
      return url;
    } catch {
      return undefined;
    }
  }

  /** XEP-0054 §3.1 vCard PHOTO; with no hash known (our own), whatever photo it holds, hashed here. */
  private async fromVcard(bare: string, hash: string | undefined): Promise<string | undefined> {
    const xmpp = this.xmpp();
    if (!xmpp) return undefined;
    try {
      const res = await xmpp.iqCaller.request(xml('iq', { type: 'get', to: bare }, xml('vCard', { xmlns: NS.VCARD })), 15000);
      const photo = res.getChild('vCard', NS.VCARD)?.getChild('PHOTO');
      const binval = photo?.getChildText('BINVAL');
      if (!binval) return undefined;
      const type = photo?.getChildText('TYPE') || 'image/png';
      const bytes = Uint8Array.from(atob(binval.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
      const actual = await sha1Hex(bytes);
      if (hash && actual !== hash) return undefined;
      const url = await verifiedAvatarUrl(binval, actual, type);
      if (url) await this.cache.put(actual, url);
      if (url && bare === this.store.state.me) this.ownHash = actual;
      return url;
    } catch {
      return undefined;
    }
  }

  /** Sets our avatar from a picture the user chose: square-cropped, 192 px PNG, XEP-0084 data then metadata. */
  async publish(file: Blob): Promise<void> {
    const xmpp = this.xmpp();
    const me = this.store.state.me;
    if (!xmpp || !me) throw new Error('Not connected');
    const png = await squarePng(file, OWN_AVATAR_SIZE);
    const bytes = new Uint8Array(await png.arrayBuffer());
    const hash = await sha1Hex(bytes);
    const base64 = encodeBase64(bytes);
    // XEP-0084 §4.1: the data node first, the item id being the hash.
    await xmpp.iqCaller.request(
      xml('iq', { type: 'set' }, xml('pubsub', { xmlns: NS.PUBSUB }, xml('publish', { node: NS.AVATAR_DATA }, xml('item', { id: hash }, xml('data', { xmlns: NS.AVATAR_DATA }, base64))))),
      20000,
    );
    // §4.2: then the metadata, which is what contacts are notified of.
    await xmpp.iqCaller.request(
      xml(
        'iq',
        { type: 'set' },
        xml(
          'pubsub',
          { xmlns: NS.PUBSUB },
          xml(
            'publish',
            { node: NS.AVATAR_METADATA },
            xml(
              'item',
              { id: hash },
              xml('metadata', { xmlns: NS.AVATAR_METADATA }, xml('info', { id: hash, bytes: String(bytes.length), type: 'image/png', width: String(OWN_AVATAR_SIZE), height: String(OWN_AVATAR_SIZE) })),
            ),
          ),
        ),
      ),
      20000,
    );
    const url = `data:image/png;base64,${base64}`;
    await this.cache.put(hash, url);
    this.ownHash = hash;
    this.show(me, url);
  }
}

/** Draws the centre square of an image into a size×size canvas and encodes it as PNG. */
async function squarePng(file: Blob, size: number): Promise<Blob> {
  const bitmap = await createImageBitmap(file);
  const side = Math.min(bitmap.width, bitmap.height);
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('This browser cannot resize pictures');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, size, size);
  bitmap.close();
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('Could not encode the picture'))), 'image/png'));
}
