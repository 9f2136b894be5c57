// XEP-0045 §5: a room's state — configuration, affiliations (long-lived, by bare JID) and the occupants
// present now (roles, by room nickname) — and the muc#user payloads that describe an occupant to others.
import { Jid, NS, xml, XmlElement } from '@parley/protocol';
import { HistoryBuffer } from './history';
import { PendingInvitations } from './invitations';

export type Role = 'moderator' | 'participant' | 'visitor' | 'none';
export type Affiliation = 'owner' | 'admin' | 'member' | 'outcast' | 'none';
export type PmPolicy = 'anyone' | 'participants' | 'moderators' | 'none';

export const ROLES: readonly Role[] = ['moderator', 'participant', 'visitor', 'none'];
export const AFFILIATIONS: readonly Affiliation[] = ['owner', 'admin', 'member', 'outcast', 'none'];

/** §5.2: owner > admin > member > none > outcast. */
export const AFFILIATION_RANK: Record<Affiliation, number> = { owner: 4, admin: 3, member: 2, none: 1, outcast: 0 };
/** §5.1: moderator > participant > visitor > none. */
export const ROLE_RANK: Record<Role, number> = { moderator: 3, participant: 2, visitor: 1, none: 0 };

/** §10.2 muc#roomconfig, in memory. */
export interface RoomConfig {
  name: string;
  description: string;
  persistent: boolean;
  public: boolean;
  membersOnly: boolean;
  moderated: boolean;
  passwordProtected: boolean;
  password: string;
  /** §10.2 muc#roomconfig_whois: who may see occupants' real JIDs. */
  whois: 'moderators' | 'anyone';
  changeSubject: boolean;
  allowInvites: boolean;
  allowPm: PmPolicy;
  /** 0: no limit. */
  maxUsers: number;
  historyLength: number;
  getMemberList: Role[];
  enableLogging: boolean;
}

export function defaultConfig(overrides: Partial<RoomConfig> = {}): RoomConfig {
  return {
    name: '',
    description: '',
    persistent: false,
    public: true,
    membersOnly: false,
    moderated: false,
    passwordProtected: false,
    password: '',
    whois: 'moderators',
    changeSubject: false,
    allowInvites: false,
    allowPm: 'anyone',
    maxUsers: 0,
    historyLength: 20,
    getMemberList: ['moderator', 'participant', 'visitor'],
    enableLogging: false,
    ...overrides,
  };
}

export interface Occupant {
  nick: string;
  /**
   * The real full JID shown in the occupant's <item jid=…/>: the session that joined last. With multi-session
   * nicks (§7.2, "a user MAY join from more than one resource with the same nick") others see one occupant.
   */
  jid: Jid;
  /** Every joined session of the occupant, real full JID → JID: all of them receive what the occupant does. */
  sessions: Map<string, Jid>;
  bare: string;
  role: Role;
  /** XEP-0421 occupant id (stable per real bare JID and room). */
  occupantId: string;
  /** The occupant's presence payload (show, status, caps …) without MUC elements. */
  payload: XmlElement[];
}

export class Room {
  config: RoomConfig;
  readonly affiliations = new Map<string, Affiliation>();
  /** Nickname → occupant. */
  readonly occupants = new Map<string, Occupant>();
  /** Real full JID → occupant. */
  readonly byReal = new Map<string, Occupant>();
  subject = '';
  /** The nick that set the subject ('' when the room itself did). */
  subjectBy = '';
  /** §10.1.2: a new room stays locked until its owner configures it or accepts the instant room. */
  locked = false;
  /** Discussion history (§7.2.15), in memory only while the room has occupants. */
  readonly history = new HistoryBuffer();
  /** True while the history lives in storage (an empty persistent room); the first join loads it. */
  historyInStorage = false;
  /** Storage may hold a copy of the history (written once, or loaded at start): deleted with the room. */
  historyStored = false;
  /** The bare JID that created the room, counted against muc.max_rooms_per_user (§10.1.1). */
  createdBy: string | undefined;
  /** §7.8.2 mediated invitations not yet answered, so that only a real invitee's decline is relayed. */
  readonly invitations = new PendingInvitations();
  /** XEP-0045 §7.10: registered nicknames, bare JID → nick. */
  readonly registered = new Map<string, string>();
  destroyed = false;

  constructor(
    readonly jid: Jid,
    config: RoomConfig,
  ) {
    this.config = config;
  }

  get jidString(): string {
    return this.jid.toString();
  }

  affiliation(jid: Jid | string): Affiliation {
    const bare = typeof jid === 'string' ? jid : jid.toBareString();
    return this.affiliations.get(bare) ?? 'none';
  }

  setAffiliation(bare: string, aff: Affiliation): void {
    if (aff === 'none') this.affiliations.delete(bare);
    else this.affiliations.set(bare, aff);
  }

  owners(): string[] {
    return [...this.affiliations].filter(([, a]) => a === 'owner').map(([j]) => j);
  }

  isNonAnonymous(): boolean {
    return this.config.whois === 'anyone';
  }

  /** §5.1.1 / §5.2: the default role for an affiliation when entering. */
  defaultRole(aff: Affiliation): Role {
    if (aff === 'owner' || aff === 'admin') return 'moderator';
    if (aff === 'outcast') return 'none';
    if (aff === 'member') return 'participant';
    return this.config.moderated ? 'visitor' : 'participant';
  }

  /** Occupants of one real bare JID (one per joined resource). */
  occupantsOf(bare: string): Occupant[] {
    const out: Occupant[] = [];
    for (const o of this.occupants.values()) if (o.bare === bare) out.push(o);
    return out;
  }

  /** §7.2.4 / §7.2.5: may this recipient see real JIDs? */
  canSeeJids(recipient: Occupant): boolean {
    return this.isNonAnonymous() || recipient.role === 'moderator';
  }

  occJid(nick: string): string {
    return `${this.jidString}/${nick}`;
  }
}

export interface PresenceVariants {
  /** For recipients who may see real JIDs. */
  withJid: XmlElement;
  /** For recipients who may not (semi-anonymous rooms, non-moderators). */
  anon: XmlElement;
  /** For the occupant itself: status 110 plus any self-only codes. */
  self: XmlElement;
}

export interface PresenceOptions {
  type?: 'unavailable';
  /** Codes for everyone (e.g. 303, 307). */
  codes?: number[];
  /** Codes for the occupant itself, besides 110. */
  selfCodes?: number[];
  /** Extra attributes on <item/> (nick for 303). */
  item?: Record<string, string | undefined>;
  /** Children of <item/> (actor, reason). */
  itemChildren?: XmlElement[];
  /** Other muc#user children (destroy). */
  extra?: XmlElement[];
  /** Overrides of the occupant's affiliation/role to report (e.g. none/none after leaving). */
  affiliation?: Affiliation;
  role?: Role;
  /** The presence payload (defaults to the occupant's). */
  payload?: XmlElement[];
}

/** Builds the three variants of one occupant's presence once; recipients get a shallow copy with 'to'. */
export function buildPresence(room: Room, occ: Occupant, opts: PresenceOptions = {}): PresenceVariants {
  const build = (withJid: boolean, self: boolean): XmlElement => {
    const item = xml('item', {
      affiliation: opts.affiliation ?? room.affiliation(occ.bare),
      role: opts.role ?? occ.role,
      jid: withJid ? occ.jid.toString() : undefined,
      ...opts.item,
    });
    for (const c of opts.itemChildren ?? []) item.append(c);
    const x = xml('x', { xmlns: NS.MUC_USER }, item);
    for (const e of opts.extra ?? []) x.append(e);
    const codes = [...(opts.codes ?? []), ...(self ? [...(opts.selfCodes ?? []), 110] : [])];
    for (const code of [...new Set(codes)].sort()) x.append(xml('status', { code: String(code) }));
    const p = new XmlElement('presence', { from: room.occJid(occ.nick) });
    if (opts.type) p.attrs.type = opts.type;
    p.children.push(...(opts.payload ?? occ.payload), x, xml('occupant-id', { xmlns: NS.OCCUPANT_ID, id: occ.occupantId }));
    return p;
  };
  const withJid = build(true, false);
  const anon = room.isNonAnonymous() ? withJid : build(false, false);
  return { withJid, anon, self: build(true, true) };
}

/** A copy addressed to one recipient; the children array is copied so that a hook appending to it never aliases. */
export function addressed(stanza: XmlElement, to: string): XmlElement {
  return new XmlElement(stanza.name, { ...stanza.attrs, to }, stanza.children.slice());
}
