// Group chats: XEP-0045 rooms (join or create, occupants with roles, subject, messages) and XEP-0402 bookmarks in
// PEP, so the rooms a user joined come back on every device and after every login.
import { xml, type Client, type Element } from '@xmpp/client';
import { Jid, NS } from '@parley/protocol';
import { readMessage } from './message-features';
import { integrate, ROOM_MODERATION } from '../state/message-features';
import { emptyChat, type Occupant, type Room, type Show, type Store } from '../state/store';

const HISTORY_ON_JOIN = 50;

export class GroupChats {
  constructor(
    private readonly store: Store,
    private readonly xmpp: () => Client | undefined,
    private readonly notify: (title: string, body: string) => void,
  ) {}

  /** The conference service of our server (services.conference, conference.<domain> by default). */
  conferenceDomain(): string {
    return `conference.${this.store.state.me!.split('@')[1]}`;
  }

  /** XEP-0045 §7.2: enter `room` as `nick`; creates it when it does not exist (§10.1). */
  async join(roomAddress: string, nick?: string, opts: { bookmark?: boolean } = { bookmark: true }): Promise<void> {
    const xmpp = this.xmpp();
    const me = this.store.state.me;
    if (!xmpp || !me) return;
    const trimmed = roomAddress.trim().toLowerCase();
    const room = Jid.parse(trimmed.includes('@') ? trimmed : `${trimmed}@${this.conferenceDomain()}`).toBareString();
    const nickname = nick || me.split('@')[0];
    this.store.update((s) => ({
      ...s,
      rooms: { ...s.rooms, [room]: { jid: room, nick: nickname, occupants: {}, joined: false, ...(s.rooms[room] ? { name: s.rooms[room].name, subject: s.rooms[room].subject } : {}) } },
      chats: { ...s.chats, [room]: s.chats[room] ?? emptyChat(room, 'groupchat') },
    }));
    await xmpp.send(
      xml('presence', { to: `${room}/${nickname}` }, xml('x', { xmlns: NS.MUC }, xml('history', { maxstanzas: String(HISTORY_ON_JOIN) }))),
    );
    if (opts.bookmark !== false) await this.saveBookmark(room, nickname).catch((err) => console.warn('bookmark', err));
  }

  /** XEP-0045 §7.14: leave, and forget the bookmark (XEP-0402 §4.3). */
  async leave(room: string): Promise<void> {
    const xmpp = this.xmpp();
    const r = this.store.state.rooms[room];
    if (!xmpp || !r) return;
    await xmpp.send(xml('presence', { to: `${room}/${r.nick}`, type: 'unavailable' }));
    await xmpp.iqCaller
      .request(xml('iq', { type: 'set' }, xml('pubsub', { xmlns: NS.PUBSUB }, xml('retract', { node: NS.BOOKMARKS2, notify: 'true' }, xml('item', { id: room })))))
      .catch(() => {});
    this.store.update((s) => {
      const rooms = { ...s.rooms };
      delete rooms[room];
      return { ...s, rooms, active: s.active === room ? undefined : s.active };
    });
  }


  /** XEP-0045 §8.1: the subject, for those the room allows to change it. */
  async setSubject(room: string, subject: string): Promise<void> {
    await this.xmpp()?.send(xml('message', { to: room, type: 'groupchat' }, xml('subject', {}, subject)));
  }

  /** XEP-0045 §8.2 kick (role none) and §9.1 ban (affiliation outcast), for moderators and admins. */
  async kick(room: string, nick: string): Promise<void> {
    await this.xmpp()?.iqCaller.request(xml('iq', { type: 'set', to: room }, xml('query', { xmlns: NS.MUC_ADMIN }, xml('item', { nick, role: 'none' }))));
  }

  /** XEP-0425 §4: a moderator removes someone's message (named by the room's stanza-id) for everyone. */
  async moderate(room: string, stanzaId: string): Promise<void> {
    await this.xmpp()?.iqCaller.request(
      xml('iq', { type: 'set', to: room }, xml('moderate', { xmlns: NS.MODERATE, id: stanzaId }, xml('retract', { xmlns: NS.RETRACT }))),
    );
  }

  /** XEP-0045 §6.3: the public rooms of our conference service. */
  async listRooms(): Promise<Array<{ jid: string; name?: string }>> {
    const xmpp = this.xmpp();
    if (!xmpp) return [];
    const res = await xmpp.iqCaller.request(xml('iq', { type: 'get', to: this.conferenceDomain() }, xml('query', { xmlns: NS.DISCO_ITEMS })));
    return (res.getChild('query', NS.DISCO_ITEMS)?.getChildren('item') ?? []).map((i) => ({ jid: i.attrs.jid!, name: i.attrs.name }));
  }

  /** XEP-0402 §4.2: a bookmark per room, autojoin, in a private PEP node. */
  private async saveBookmark(room: string, nick: string): Promise<void> {
    const xmpp = this.xmpp();
    if (!xmpp) return;
    const field = (name: string, value: string, type?: string) => xml('field', { var: name, type }, xml('value', {}, value));
    await xmpp.iqCaller.request(
      xml(
        'iq',
        { type: 'set' },
        xml(
          'pubsub',
          { xmlns: NS.PUBSUB },
          xml('publish', { node: NS.BOOKMARKS2 }, xml('item', { id: room }, xml('conference', { xmlns: NS.BOOKMARKS2, autojoin: 'true' }, xml('nick', {}, nick)))),
          // §4.2: the node's required configuration (private, persistent, as many items as needed).
          xml(
            'publish-options',
            {},
            xml(
              'x',
              { xmlns: NS.DATA, type: 'submit' },
              field('FORM_TYPE', NS.PUBSUB_PUBLISH_OPTIONS, 'hidden'),
              field('pubsub#persist_items', 'true'),
              field('pubsub#max_items', 'max'),
              field('pubsub#send_last_published_item', 'never'),
              field('pubsub#access_model', 'whitelist'),
            ),
          ),
        ),
      ),
    );
  }

  /** After login: join every bookmarked room marked autojoin (XEP-0402 §4.1). */
  async joinBookmarked(): Promise<void> {
    const xmpp = this.xmpp();
    if (!xmpp) return;
    let res: Element;
    try {
      res = await xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('pubsub', { xmlns: NS.PUBSUB }, xml('items', { node: NS.BOOKMARKS2 }))));
    } catch {
      return; // no bookmarks yet (item-not-found)
    }
    const items = res.getChild('pubsub', NS.PUBSUB)?.getChild('items')?.getChildren('item') ?? [];
    for (const item of items) {
      const conf = item.getChild('conference', NS.BOOKMARKS2);
      if (!conf || !item.attrs.id) continue;
      if (conf.attrs.autojoin === 'true' || conf.attrs.autojoin === '1') {
        await this.join(item.attrs.id, conf.getChildText('nick') ?? undefined, { bookmark: false });
        if (conf.attrs.name) this.updateRoom(item.attrs.id, (r) => ({ ...r, name: conf.attrs.name }));
      }
    }
  }

  /** Rejoins the rooms we were in after a new session (a resumed one keeps them). */
  async rejoin(): Promise<void> {
    for (const room of Object.values(this.store.state.rooms)) await this.join(room.jid, room.nick, { bookmark: false });
  }

  /** Presence from a room: an occupant came, changed, or left; or our own entry, or an error joining. */
  onPresence(el: Element, from: Jid): boolean {
    const room = from.toBareString();
    const r = this.store.state.rooms[room];
    if (!r) return false;
    const nick = from.resource ?? '';
    if (el.attrs.type === 'error') {
      const condition = el.getChild('error')?.getChildElements()[0]?.name ?? 'error';
      this.updateRoom(room, (x) => ({ ...x, joined: false, error: joinErrorText(condition) }));
      return true;
    }
    const user = el.getChild('x', NS.MUC_USER);
    const item = user?.getChild('item');
    const codes = (user?.getChildren('status') ?? []).map((st) => st.attrs.code);
    if (el.attrs.type === 'unavailable') {
      this.updateRoom(room, (x) => {
        const occupants = { ...x.occupants };
        delete occupants[nick];
        // §7.2.2 / §9.1: status 110 on unavailable presence: we were removed (kicked, banned) or left.
        return codes.includes('110') ? { ...x, occupants, joined: false, error: codes.includes('301') ? 'You were banned from this room.' : codes.includes('307') ? 'You were removed from this room.' : x.error } : { ...x, occupants };
      });
      return true;
    }
    const show = (el.getChildText('show') as Show | null) ?? 'available';
    const occupant: Occupant = {
      nick,
      role: (item?.attrs.role as Occupant['role']) ?? 'participant',
      affiliation: (item?.attrs.affiliation as Occupant['affiliation']) ?? 'none',
      show,
    };
    const self = codes.includes('110');
    // XEP-0421 §3: the room's id for us, which our reflected messages and reactions carry.
    const occupantId = self ? el.getChild('occupant-id', NS.OCCUPANT_ID)?.attrs.id : undefined;
    this.updateRoom(room, (x) => ({
      ...x,
      occupants: { ...x.occupants, [nick]: occupant },
      joined: x.joined || self,
      error: self ? undefined : x.error,
      nick: self ? nick : x.nick,
      occupantId: self ? occupantId ?? x.occupantId : x.occupantId,
    }));
    // §10.1.2: a new room is locked until its owner configures it; accept defaults, persistent and public, with an
    // archive: its stanza-ids (XEP-0359) are how replies, reactions and retractions name room messages.
    if (self && codes.includes('201')) void this.configureNewRoom(room);
    return true;
  }

  private async configureNewRoom(room: string): Promise<void> {
    const field = (name: string, value: string, type?: string) => xml('field', { var: name, type }, xml('value', {}, value));
    await this.xmpp()
      ?.iqCaller.request(
        xml(
          'iq',
          { type: 'set', to: room },
          xml(
            'query',
            { xmlns: NS.MUC_OWNER },
            xml('x', { xmlns: NS.DATA, type: 'submit' }, field('FORM_TYPE', NS.MUC_ROOMCONFIG, 'hidden'), field('muc#roomconfig_persistentroom', '1'), field('muc#roomconfig_publicroom', '1'), field('muc#roomconfig_enablelogging', '1')),
          ),
        ),
      )
      .catch((err) => console.warn('room configuration', err));
  }

  /** A groupchat message: a subject change, or a message (live, or history on joining). */
  onMessage(el: Element, from: Jid): boolean {
    const room = from.toBareString();
    const r = this.store.state.rooms[room];
    if (!r || el.attrs.type !== 'groupchat') return false;
    const subject = el.getChild('subject');
    const body = el.getChildText('body');
    if (subject && body === null) {
      this.updateRoom(room, (x) => ({ ...x, subject: subject.text() }));
      return true;
    }
    const nick = from.resource ?? '';
    const originId = el.getChild('origin-id', NS.STANZA_ID)?.attrs.id;
    // XEP-0359 §3: only the room's own stanza-id is trusted; replies and reactions name messages by it.
    const archiveId = el.getChildren('stanza-id', NS.STANZA_ID).find((s) => s.attrs.by === room)?.attrs.id;
    const stamp = el.getChild('delay', NS.DELAY)?.attrs.stamp;
    const time = stamp ? Date.parse(stamp) : Date.now();
    const outgoing = nick === r.nick;
    // XEP-0421: the room's occupant-id identifies the author across nick changes; the room strips any a client
    // puts there, so it cannot be forged. Rooms without it leave only the nick to compare.
    const occupantId = el.getChild('occupant-id', NS.OCCUPANT_ID)?.attrs.id;
    // XEP-0425 §4: a moderator's retraction comes from the room itself (bare JID), which only the room can send.
    const byRoom = from.resource === undefined && el.getChild('retract', NS.RETRACT)?.getChild('moderated', NS.MODERATE) !== undefined;
    const author = byRoom ? { sender: ROOM_MODERATION, name: room } : { sender: occupantId ?? `nick:${nick}`, name: outgoing ? 'You' : nick };
    const base = { id: originId ?? el.attrs.id ?? archiveId ?? crypto.randomUUID(), archiveId, nick, outgoing, body: '', time: Number.isNaN(time) ? Date.now() : time };
    const { message, edit } = readMessage(el, base, 'groupchat', author);
    if (!message && !edit) return true;
    const isActive = this.store.state.active === room && !document.hidden;
    this.store.update((s) => {
      const chat = s.chats[room] ?? emptyChat(room, 'groupchat');
      const next = integrate(chat, message ? [message] : [], edit ? [edit] : []);
      return {
        ...s,
        chats: { ...s.chats, [room]: { ...next, unread: !message || outgoing || isActive || stamp ? chat.unread : chat.unread + 1 } },
      };
    });
    if (message && !outgoing && !stamp && !isActive) this.notify(`${nick} in ${room.split('@')[0]}`, message.body);
    return true;
  }

  private updateRoom(room: string, change: (r: Room) => Room): void {
    this.store.update((s) => (s.rooms[room] ? { ...s, rooms: { ...s.rooms, [room]: change(s.rooms[room]) } } : s));
  }
}

function joinErrorText(condition: string): string {
  switch (condition) {
    case 'conflict':
      return 'That nickname is taken in this room.';
    case 'not-authorized':
      return 'This room needs a password.';
    case 'forbidden':
      return 'You are banned from this room.';
    case 'registration-required':
      return 'This room is for members only.';
    case 'item-not-found':
      return 'This room does not exist or is locked.';
    case 'not-allowed':
      return 'You may not create rooms here.';
    default:
      return `Could not join the room (${condition}).`;
  }
}
