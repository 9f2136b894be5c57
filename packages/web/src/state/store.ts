// The app's state: one immutable snapshot replaced on every change, so components re-render from a value and
// never see a half-applied update. The XMPP layer (xmpp/session.ts) is the only writer.

export type Show = 'available' | 'away' | 'dnd' | 'xa' | 'chat' | 'offline';
export type ConnectionState = 'signed-out' | 'connecting' | 'online' | 'reconnecting';

export interface Contact {
  jid: string;
  name?: string;
  /** RFC 6121 §2.1.2.5 */
  subscription: 'none' | 'to' | 'from' | 'both' | 'remove';
  /** A subscription request of ours waits for the contact's answer. */
  pending: boolean;
}

export interface Presence {
  show: Show;
  status?: string;
}

export interface Message {
  /** The stanza's id (origin-id when present): the key for receipts and de-duplication. */
  id: string;
  /** In a group chat: the sender's nickname. */
  nick?: string;
  /** The archive's id (XEP-0359 stanza-id by our account), when known. */
  archiveId?: string;
  outgoing: boolean;
  body: string;
  time: number;
  /** XEP-0184: the recipient's client confirmed it. */
  delivered?: boolean;
  /**
   * Who wrote it, as corrections, retractions and reactions are checked against: the bare JID in a one-to-one
   * chat, the room's occupant-id (XEP-0421) or else `nick:<nick>` in a group chat.
   */
  sender?: string;
  /** XEP-0308: the time of the correction shown (the body is the corrected text). */
  editedAt?: number;
  /** XEP-0424: deleted by its sender; the body is gone. */
  retracted?: boolean;
  /** XEP-0461: the message this one answers, and the quote the sender put in front (XEP-0428 fallback). */
  reply?: { id: string; to?: string; quote?: string };
  /** XEP-0444: each sender's current reactions. */
  reactions?: Record<string, { name: string; emojis: string[]; at: number }>;
  /** XEP-0066: a file (XEP-0363 upload) whose URL is the body. */
  file?: { url: string };
}

export interface Chat {
  jid: string;
  /** A one-to-one chat, or a group chat (XEP-0045 room). */
  kind: 'chat' | 'groupchat';
  messages: Message[];
  /** XEP-0085: the contact's last chat state. */
  theirState?: 'active' | 'composing' | 'paused' | 'inactive' | 'gone';
  unread: number;
  /** XEP-0313: older messages remain in the archive. */
  historyComplete: boolean;
  historyLoading: boolean;
  /** Corrections, retractions and reactions whose message is not shown yet (an older archive page has it). */
  pendingEdits?: import('./message-features').MessageEdit[];
}

export interface Occupant {
  nick: string;
  /** XEP-0045 §5.1 */
  role: 'moderator' | 'participant' | 'visitor' | 'none';
  /** XEP-0045 §5.2 */
  affiliation: 'owner' | 'admin' | 'member' | 'outcast' | 'none';
  show: Show;
}

export interface Room {
  jid: string;
  /** Our nickname in the room. */
  nick: string;
  /** XEP-0421: our occupant-id, which our messages and reactions carry once reflected. */
  occupantId?: string;
  name?: string;
  subject?: string;
  occupants: Record<string, Occupant>;
  /** XEP-0045 §7.2.2: the room sent our own presence (status 110). */
  joined: boolean;
  error?: string;
}

export interface AppState {
  connection: ConnectionState;
  /** Our bare JID once logged in. */
  me?: string;
  error?: string;
  ownShow: Show;
  ownStatus: string;
  contacts: Record<string, Contact>;
  /** Per bare JID, per resource. */
  presence: Record<string, Record<string, Presence>>;
  /** Bare JIDs that asked to see our presence (RFC 6121 §3.1.3). */
  requests: string[];
  chats: Record<string, Chat>;
  /** Group chats we are in or joining, by room JID; their messages are in `chats`. */
  rooms: Record<string, Room>;
  active?: string;
  /** XEP-0191: bare JIDs (or domains) we block. */
  blocked: string[];
  /** Avatars as object or data URLs, by bare JID (ours included); no entry: initials. */
  avatars: Record<string, string>;
  /** How the session reaches the server: RFC 7395 WebSocket, or BOSH (XEP-0206) where that cannot connect. */
  transport?: 'websocket' | 'bosh';
}

export const initialState: AppState = {
  connection: 'signed-out',
  ownShow: 'available',
  ownStatus: '',
  contacts: {},
  presence: {},
  requests: [],
  chats: {},
  rooms: {},
  blocked: [],
  avatars: {},
};

type Listener = (s: AppState) => void;

export class Store {
  private current: AppState;
  private readonly listeners = new Set<Listener>();

  constructor(state: AppState = initialState) {
    this.current = state;
  }

  get state(): AppState {
    return this.current;
  }

  update(change: (s: AppState) => AppState): void {
    const next = change(this.current);
    if (next === this.current) return;
    this.current = next;
    for (const l of this.listeners) l(next);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function emptyChat(jid: string, kind: Chat['kind'] = 'chat'): Chat {
  return { jid, kind, messages: [], unread: 0, historyComplete: false, historyLoading: false };
}

/** The best presence of a contact over its resources (RFC 6121 §4.7.2.1 show values, most available first). */
export function bestPresence(resources: Record<string, Presence> | undefined): Presence {
  const order: Show[] = ['chat', 'available', 'away', 'dnd', 'xa'];
  let best: Presence = { show: 'offline' };
  for (const p of Object.values(resources ?? {})) {
    if (best.show === 'offline' || order.indexOf(p.show) < order.indexOf(best.show)) best = p;
  }
  return best;
}

/**
 * Adds messages to a chat, keeping it sorted by time and free of duplicates: the same message may come live,
 * as a carbon, and from the archive (XEP-0313 §4.1 does not promise otherwise).
 */
export function mergeMessages(existing: Message[], incoming: Message[]): Message[] {
  const seen = new Set<string>();
  for (const m of existing) {
    seen.add(`id:${m.id}`);
    if (m.archiveId) seen.add(`a:${m.archiveId}`);
  }
  const added: Message[] = [];
  for (const m of incoming) {
    if (seen.has(`id:${m.id}`) || (m.archiveId && seen.has(`a:${m.archiveId}`))) continue;
    seen.add(`id:${m.id}`);
    if (m.archiveId) seen.add(`a:${m.archiveId}`);
    added.push(m);
  }
  if (added.length === 0) return existing;
  return [...existing, ...added].sort((a, b) => a.time - b.time);
}

/** Splits text into plain runs and http(s) links, so links render as anchors and nothing else as HTML. */
export function linkify(text: string): Array<{ text: string; href?: string }> {
  const out: Array<{ text: string; href?: string }> = [];
  const re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    out.push({ text: m[0], href: m[0] });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}
