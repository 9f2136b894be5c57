// The MUC service: its rooms, fan-out to occupants, persistence of persistent rooms (§10.2
// muc#roomconfig_persistentroom), occupant ids (XEP-0421) and the removal of occupants and rooms. What a room
// may cost is bounded here: rooms per creator (§10.1.1), and the discussion history of a persistent room that
// nobody occupies is kept in storage, not memory, until someone enters again.
import { createHmac } from 'node:crypto';
import { Jid, NS, xml, XmlElement } from '@parley/protocol';
import type { ModuleContext } from '../../core/module-api';
import type { ArchiveStore, KeyValueStore, MapStore } from '../../storage/types';
import type { HistoryLimits, StoredHistory } from './history';
import {
  addressed, buildPresence, defaultConfig, Room,
  type Affiliation, type Occupant, type PresenceOptions, type PresenceVariants, type RoomConfig,
} from './room';

export interface MucOptions {
  /** Upper bound for muc#roomconfig_historylength. */
  max_history: number;
  /** Configuration of new rooms. */
  default_history: number;
  /** Only server administrators may create rooms. */
  restrict_room_creation: boolean;
  /** Rooms one bare JID may have created and that still exist (administrators are exempt). */
  max_rooms_per_user: number;
  /** Bytes of discussion history a room keeps (the serialised stanzas), besides its history length. */
  max_history_bytes: number;
  /** <invite/> elements one mediated-invitation message may carry (§7.8.2). */
  max_invites_per_message: number;
}

interface StoredRoom {
  config: RoomConfig;
  affiliations: Record<string, Affiliation>;
  subject: string;
  subjectBy: string;
  registered?: Record<string, string>;
  /** Absent for rooms saved before creators were recorded: those count against nobody. */
  createdBy?: string;
}

export class MucService {
  readonly rooms = new Map<string, Room>();
  /** Creator bare JID → rooms it created that still exist (§10.1.1 limit). */
  private readonly created = new Map<string, number>();
  /** In a cluster: the rooms this node serves, read from storage when it started serving them. */
  private readonly served = new Set<string>();
  private readonly historyWrites = new Set<Room>();

  constructor(
    readonly ctx: ModuleContext<MucOptions>,
    readonly domain: string,
    private readonly secret: string,
    private readonly store: MapStore<StoredRoom>,
    readonly archive: ArchiveStore,
    private readonly historyStore: KeyValueStore<StoredHistory>,
  ) {}

  /** Recreates the persistent rooms at start. */
  async load(): Promise<void> {
    for (const owner of await this.store.owners()) {
      const s = await this.store.get(owner, 'state');
      if (s) this.restore(owner, s);
    }
  }

  private restore(owner: string, s: StoredRoom): void {
    const jid = Jid.tryParse(owner);
    if (!jid) return;
    const room = new Room(jid, { ...defaultConfig(), ...s.config });
    for (const [j, a] of Object.entries(s.affiliations)) room.setAffiliation(j, a);
    for (const [j, n] of Object.entries(s.registered ?? {})) room.registered.set(j, n);
    room.subject = s.subject;
    room.subjectBy = s.subjectBy;
    // Nobody is in it yet: its history stays in storage until the first join.
    room.historyInStorage = true;
    room.historyStored = true;
    this.track(room, s.createdBy);
  }

  /**
   * In a cluster, a room lives on the live node that wins it (rendezvous hashing): when its node dies it moves to
   * another, and back when that node returns. A node about to serve a room it did not serve reads it from storage
   * first (configuration, affiliations, subject; history on the first join), since the node that served it may
   * have changed it; occupants who rejoin find it.
   */
  async serve(key: string): Promise<void> {
    if (!this.ctx.server.cluster.enabled || this.served.has(key)) return;
    const s = await this.store.get(key, 'state');
    const stale = this.rooms.get(key);
    if (stale) this.untrack(stale);
    if (s) this.restore(key, s);
    this.served.add(key);
  }

  /**
   * Nodes joined or left: rooms this node no longer serves leave it. Their history goes to storage for the node
   * now serving them; their occupants here are forgotten (XEP-0410 self-pings tell clients to rejoin there).
   */
  async releaseMoved(): Promise<void> {
    const { cluster } = this.ctx.server;
    for (const key of [...this.served]) {
      if (cluster.serves(key)) continue;
      this.served.delete(key);
      const room = this.rooms.get(key);
      if (!room) continue;
      await this.saveHistory(room, true).catch((err) => this.ctx.log.warn({ err, room: key }, 'muc history not saved for the node taking over'));
      room.occupants.clear();
      room.byReal.clear();
    }
  }

  /**
   * In a cluster, a persistent room's history is written as it grows (once per tick), so a node that dies
   * without warning leaves it for the node taking over.
   */
  historyChanged(room: Room): void {
    if (!this.ctx.server.cluster.enabled || !room.config.persistent || this.historyWrites.has(room)) return;
    this.historyWrites.add(room);
    setImmediate(() => {
      this.historyWrites.delete(room);
      void this.saveHistory(room, false).catch((err) => this.ctx.log.warn({ err, room: room.jidString }, 'muc history not saved'));
    });
  }

  get(jid: Jid): Room | undefined {
    return this.rooms.get(jid.toBareString());
  }

  /**
   * §10.1.1: "The privilege to create rooms MAY be restricted to certain users"; a user who has created
   * muc.max_rooms_per_user rooms that still exist may create no more. Administrators are exempt.
   */
  mayCreate(creator: Jid): boolean {
    if (this.ctx.server.isAdmin(creator)) return true;
    return (this.created.get(creator.toBareString()) ?? 0) < this.ctx.options.max_rooms_per_user;
  }

  create(jid: Jid, creator: Jid): Room {
    const room = new Room(jid.bare(), defaultConfig({ historyLength: this.ctx.options.default_history }));
    this.track(room, creator.toBareString());
    return room;
  }

  private track(room: Room, creator: string | undefined): void {
    room.createdBy = creator;
    this.rooms.set(room.jidString, room);
    if (creator !== undefined) this.created.set(creator, (this.created.get(creator) ?? 0) + 1);
  }

  /** The room leaves memory (it is gone, or read again from storage): it no longer counts against its creator. */
  private untrack(room: Room): void {
    if (this.rooms.get(room.jidString) === room) this.rooms.delete(room.jidString);
    const creator = room.createdBy;
    if (creator !== undefined) {
      const n = (this.created.get(creator) ?? 1) - 1;
      if (n > 0) this.created.set(creator, n);
      else this.created.delete(creator);
    }
  }

  /** The room is gone: it no longer counts against its creator, and its stored history goes with it. */
  private async forget(room: Room): Promise<void> {
    room.destroyed = true;
    this.untrack(room);
    room.history.clear();
    room.invitations.clear();
    if (room.historyStored) {
      await this.historyStore.set(room.jidString, undefined).catch((err) => this.ctx.log.warn({ err, room: room.jidString }, 'muc history not deleted'));
    }
  }

  /** The bounds of a room's history: its configured length and the service's byte bound. */
  historyLimits(room: Room): HistoryLimits {
    return { stanzas: room.config.historyLength, bytes: this.ctx.options.max_history_bytes };
  }

  /** The first occupant enters a room whose history was in storage: it comes back into memory. */
  async loadHistory(room: Room): Promise<void> {
    if (!room.historyInStorage) return;
    room.history.restore(await this.historyStore.get(room.jidString), this.historyLimits(room));
    room.historyInStorage = false;
  }

  /** Writes a persistent room's history to storage; `release` drops it from memory (the room is empty). */
  async saveHistory(room: Room, release: boolean): Promise<void> {
    if (room.historyInStorage || room.destroyed || !room.config.persistent) return;
    await this.historyStore.set(room.jidString, room.history.size > 0 ? room.history.toStored() : undefined);
    room.historyStored = true;
    if (release) {
      room.history.clear();
      room.historyInStorage = true;
    }
  }

  /** At shutdown: the history of occupied persistent rooms is kept for the next start, like that of empty ones. */
  async saveAllHistory(): Promise<void> {
    for (const room of this.rooms.values()) {
      await this.saveHistory(room, false).catch((err) => this.ctx.log.warn({ err, room: room.jidString }, 'muc history not saved'));
    }
  }

  /** Saves a persistent room's configuration and affiliations; a room that stopped being persistent is forgotten. */
  async persist(room: Room): Promise<void> {
    if (room.destroyed) return;
    if (!room.config.persistent) {
      await this.store.deleteAll(room.jidString);
      // A temporary room's history lives and dies in memory: no copy stays behind in storage.
      if (room.historyStored && !room.historyInStorage) {
        await this.historyStore.set(room.jidString, undefined);
        room.historyStored = false;
      }
      return;
    }
    await this.store.set(room.jidString, 'state', {
      config: room.config,
      affiliations: Object.fromEntries(room.affiliations),
      subject: room.subject,
      subjectBy: room.subjectBy,
      registered: Object.fromEntries(room.registered),
      createdBy: room.createdBy,
    });
  }

  /** XEP-0421 §3: stable per real bare JID and room, opaque (an HMAC with a per-service secret). */
  occupantId(room: Room, bare: string): string {
    return createHmac('sha256', this.secret).update(`${room.jidString}\0${bare}`).digest('base64url').slice(0, 22);
  }

  /** Routes a stanza the room generated. Errors are logged, never thrown at the sender. */
  send(stanza: XmlElement): Promise<void> {
    return this.ctx.server.send(stanza).catch((err) => this.ctx.log.warn({ err }, 'muc delivery failed'));
  }

  /** One stanza to every joined session of an occupant (multi-session nicks: each device gets it). */
  sendToOccupant(occ: Occupant, stanza: XmlElement): Promise<void> {
    return Promise.all([...occ.sessions.keys()].map((full) => this.send(addressed(stanza, full)))).then(() => {});
  }

  /** Sends one occupant's presence variants to every occupant (§7.2.3); `self` gets the 110 variant. */
  async broadcastPresence(room: Room, subject: Occupant, v: PresenceVariants, includeSelf = true): Promise<void> {
    const sends: Promise<void>[] = [];
    for (const r of room.occupants.values()) {
      if (r === subject) continue;
      sends.push(this.sendToOccupant(r, room.canSeeJids(r) ? v.withJid : v.anon));
    }
    if (includeSelf) sends.push(this.sendToOccupant(subject, v.self));
    await Promise.all(sends);
  }

  /** One stanza built once, addressed per occupant session (groupchat messages, config notices). */
  async broadcast(room: Room, stanza: XmlElement, filter?: (o: Occupant) => boolean): Promise<void> {
    const sends: Promise<void>[] = [];
    for (const r of room.occupants.values()) {
      if (filter && !filter(r)) continue;
      sends.push(this.sendToOccupant(r, stanza));
    }
    await Promise.all(sends);
  }

  /** §10.2.1 / status messages from the room itself. */
  statusMessage(room: Room, codes: number[]): XmlElement {
    const x = xml('x', { xmlns: NS.MUC_USER });
    for (const c of codes) x.append(xml('status', { code: String(c) }));
    return xml('message', { from: room.jidString, type: 'groupchat', id: `muc-${Date.now().toString(36)}` }, x);
  }

  /** Takes an occupant out of the room and tells everyone (leave §7.14, kick §8.2, ban §9.1, 321/322 …). */
  async removeOccupant(room: Room, occ: Occupant, opts: PresenceOptions = {}): Promise<void> {
    if (room.occupants.get(occ.nick) !== occ) return;
    room.occupants.delete(occ.nick);
    for (const full of occ.sessions.keys()) room.byReal.delete(full);
    const v = buildPresence(room, occ, { type: 'unavailable', role: 'none', payload: [], ...opts });
    await this.broadcastPresence(room, occ, v);
    await this.maybeDestroyEmpty(room);
  }

  /**
   * One session of an occupant leaves (§7.14 exit, or its client bounced room traffic). With other sessions
   * joined under the same nick the occupant stays: as Prosody and ejabberd do for multi-session nicks, only the
   * leaving session gets its unavailable self-presence and nobody else learns of it; the last session leaving
   * is the occupant leaving.
   */
  async removeSession(room: Room, occ: Occupant, full: string, opts: PresenceOptions = {}): Promise<void> {
    if (occ.sessions.size <= 1) return this.removeOccupant(room, occ, opts);
    if (!occ.sessions.delete(full)) return;
    room.byReal.delete(full);
    if (occ.jid.toString() === full) occ.jid = [...occ.sessions.values()].at(-1)!;
    const v = buildPresence(room, occ, { type: 'unavailable', role: 'none', payload: [], ...opts });
    await this.send(addressed(v.self, full));
  }

  /**
   * §10.1.3 / §9 temporary rooms disappear with their last occupant; a persistent room stays, its history moved
   * to storage so that rooms nobody is in cost no memory for it.
   */
  async maybeDestroyEmpty(room: Room): Promise<void> {
    if (room.occupants.size !== 0 || room.destroyed) return;
    if (!room.config.persistent) await this.forget(room);
    // Should storage fail, the history stays in memory rather than being lost.
    else await this.saveHistory(room, true).catch((err) => this.ctx.log.warn({ err, room: room.jidString }, 'muc history kept in memory'));
  }

  /** §10.9: destroys a room; every occupant gets unavailable presence with <destroy/>. */
  async destroy(room: Room, venue?: string, reason?: string, password?: string): Promise<void> {
    const destroyEl = xml('destroy', { jid: venue });
    if (reason !== undefined) destroyEl.append(xml('reason', null, reason));
    if (password !== undefined) destroyEl.append(xml('password', null, password));
    const occupants = [...room.occupants.values()];
    room.occupants.clear();
    room.byReal.clear();
    const sends: Promise<void>[] = [];
    for (const occ of occupants) {
      const v = buildPresence(room, occ, { type: 'unavailable', affiliation: 'none', role: 'none', payload: [], extra: [destroyEl] });
      // §10.9 example: <item affiliation='none' role='none'/> and <destroy/>, no real JID.
      sends.push(this.sendToOccupant(occ, v.anon));
    }
    await Promise.all(sends);
    await this.forget(room);
    await this.store.deleteAll(room.jidString);
  }
}
