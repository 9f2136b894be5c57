// What changes a message after it was sent — XEP-0308 corrections, XEP-0424 retractions, XEP-0444 reactions —
// applied to a chat's messages as pure functions (no DOM, no XMPP), so the rules are tested in Node:
// - only the message's own sender may correct or retract it (bare JID in a one-to-one chat, occupant-id in a room);
// - a change whose message is not shown yet waits (the archive pages backwards, so the change may come first);
// - reactions are each sender's whole current set, limited to single emoji and to a few per sender.
import { mergeMessages, type Chat, type Message } from './store';

/** XEP-0444 §4: each <reaction/> is one emoji; more than this many per sender is not someone reacting. */
export const MAX_REACTIONS_PER_SENDER = 12;
/**
 * The sender of a room's own XEP-0425 moderation (a retraction by a moderator, sent from the room's bare JID, which
 * no occupant can send as): the one change that applies to anyone's message.
 */
export const ROOM_MODERATION = 'room-moderation';
/** Changes kept waiting for their message; older ones are dropped (their message is far back in the archive). */
const MAX_PENDING = 200;

/**
 * How a change names its message. XEP-0308 §3 names the original's id attribute (origin-id for us); XEP-0424 §4
 * and XEP-0444 §3 name the message id in a one-to-one chat and the room's stanza-id (XEP-0359) in a group chat.
 */
export type TargetBy = 'id' | 'stanza-id';

interface EditBase {
  target: string;
  by: TargetBy;
  /** Who sent the change, in the same form as Message.sender. */
  sender: string;
  time: number;
}

export type MessageEdit =
  | (EditBase & { kind: 'correct'; body: string; file?: { url: string } })
  | (EditBase & { kind: 'retract' })
  | (EditBase & { kind: 'react'; name: string; emojis: string[] });

/** The id other people's changes use for `m` in a chat of this kind (XEP-0424 §4, XEP-0444 §3, XEP-0461 §3). */
export function referenceId(m: Message, kind: Chat['kind']): string | undefined {
  return kind === 'groupchat' ? m.archiveId : m.id;
}

function findTarget(messages: Message[], edit: MessageEdit): number {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    const id = edit.by === 'id' ? m.id : m.archiveId;
    // A correction looks for the sender's own message with that id: ids chosen by clients are not unique across
    // senders, and someone else's message with the same id must not be found (and rejected) instead.
    if (id === edit.target && (edit.kind !== 'correct' || m.sender === edit.sender)) return i;
  }
  return -1;
}

/**
 * Applies one change: the new list, 'missing' when the message is not there (yet), or the same list when the
 * change is refused (someone else's message, already deleted, older than what is shown).
 */
export function applyEdit(messages: Message[], edit: MessageEdit): Message[] | 'missing' {
  const i = findTarget(messages, edit);
  if (i < 0) return 'missing';
  const m = messages[i]!;
  if (m.retracted) return messages;
  let next: Message;
  switch (edit.kind) {
    case 'correct':
      // XEP-0308 §5 (business rules): only the original sender may correct a message.
      if (m.sender !== edit.sender || edit.time < (m.editedAt ?? 0) || !edit.body.trim()) return messages;
      next = { ...m, body: edit.body, editedAt: edit.time, file: edit.file && edit.file.url === edit.body.trim() ? edit.file : undefined };
      break;
    case 'retract':
      // XEP-0424 §7 (security): a retraction from anyone but the sender is ignored; XEP-0425: the room's own.
      if (m.sender !== edit.sender && edit.sender !== ROOM_MODERATION) return messages;
      next = { ...m, body: '', retracted: true, file: undefined, reply: undefined, reactions: undefined, editedAt: undefined };
      break;
    case 'react': {
      const previous = m.reactions?.[edit.sender];
      // Each reactions element replaces the sender's set (§3); an older one (from the archive) changes nothing.
      if (previous && previous.at > edit.time) return messages;
      const reactions = { ...(m.reactions ?? {}) };
      if (edit.emojis.length === 0) delete reactions[edit.sender];
      else reactions[edit.sender] = { name: edit.name, emojis: edit.emojis, at: edit.time };
      next = { ...m, reactions };
      break;
    }
  }
  const out = messages.slice();
  out[i] = next;
  return out;
}

/**
 * Adds messages and changes to a chat: messages merged without duplicates (store.mergeMessages), then every
 * change that finds its message applied in time order; the others wait for the message to arrive.
 */
export function integrate(chat: Chat, incoming: Message[], edits: MessageEdit[]): Chat {
  let messages = mergeMessages(chat.messages, incoming);
  const waiting = [...(chat.pendingEdits ?? []), ...edits];
  if (waiting.length === 0) return messages === chat.messages ? chat : { ...chat, messages };
  const pending: MessageEdit[] = [];
  for (const edit of waiting.sort((a, b) => a.time - b.time)) {
    const result = applyEdit(messages, edit);
    if (result === 'missing') pending.push(edit);
    else messages = result;
  }
  return { ...chat, messages, pendingEdits: pending.slice(-MAX_PENDING) };
}

const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|[#*0-9]\uFE0F?\u20E3)/u;
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** One emoji (one grapheme cluster that is pictographic: flags, skin tones and ZWJ sequences included). */
export function isSingleEmoji(text: string): boolean {
  if (text.length === 0 || text.length > 32) return false;
  const graphemes = [...segmenter.segment(text)];
  return graphemes.length === 1 && EMOJI.test(text);
}

/** A sender's reactions as received: single emoji only, each once, at most MAX_REACTIONS_PER_SENDER. */
export function cleanReactions(list: string[]): string[] {
  const out: string[] = [];
  for (const raw of list) {
    const e = raw.trim();
    if (isSingleEmoji(e) && !out.includes(e)) out.push(e);
    if (out.length === MAX_REACTIONS_PER_SENDER) break;
  }
  return out;
}

export interface ReactionSummary {
  emoji: string;
  count: number;
  /** Who reacted with it, by name. */
  names: string[];
  /** Whether `me` is among them (so a click takes it back). */
  mine: boolean;
}

/** The reactions to show under a message: each emoji once, with its count and who chose it, in first-use order. */
export function summarizeReactions(m: Message, me: string | undefined): ReactionSummary[] {
  const byEmoji = new Map<string, ReactionSummary>();
  const senders = Object.entries(m.reactions ?? {}).sort((a, b) => a[1].at - b[1].at);
  for (const [sender, r] of senders) {
    for (const emoji of r.emojis) {
      const s = byEmoji.get(emoji) ?? { emoji, count: 0, names: [], mine: false };
      s.count++;
      s.names.push(r.name);
      if (sender === me) s.mine = true;
      byEmoji.set(emoji, s);
    }
  }
  return [...byEmoji.values()];
}

/** My reactions to `m` after toggling `emoji` (XEP-0444 §3: the whole new set is sent). */
export function toggleReaction(m: Message, me: string, emoji: string): string[] {
  const mine = m.reactions?.[me]?.emojis ?? [];
  return mine.includes(emoji) ? mine.filter((e) => e !== emoji) : cleanReactions([...mine, emoji]);
}

/**
 * XEP-0428 §3: removes the fallback ranges (start/end in Unicode code points) from a body; a range without
 * bounds is the whole body. Returns the text left and the removed text (for a reply: the quote).
 */
export function stripFallback(body: string, ranges: Array<{ start?: number; end?: number }>): { text: string; removed: string } {
  const points = [...body];
  const drop = new Array<boolean>(points.length).fill(false);
  for (const r of ranges) {
    const start = r.start ?? 0;
    const end = r.end ?? points.length;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > points.length || start > end) continue;
    for (let i = start; i < end; i++) drop[i] = true;
  }
  return { text: points.filter((_, i) => !drop[i]).join(''), removed: points.filter((_, i) => drop[i]).join('') };
}

/** XEP-0461 §4 (fallback): the quote put in front of a reply's text for clients without replies. */
export function replyFallback(authorName: string, quoted: string): string {
  const lines = quoted.split('\n').slice(0, 3);
  const short = lines.map((l) => (l.length > 120 ? `${l.slice(0, 119)}…` : l));
  return `> ${authorName} wrote:\n${short.map((l) => `> ${l}`).join('\n')}\n`;
}

/** The quote of a reply fallback as text to show: without the "> " marks and the "wrote:" line. */
export function quoteText(removed: string): string {
  return removed
    .split('\n')
    .filter((l) => l.startsWith('>') && !/^>\s*.+ wrote:\s*$/.test(l))
    .map((l) => l.replace(/^>\s?/, ''))
    .join('\n')
    .trim();
}

/** The last message I may correct (XEP-0308 §1: the last one, the usual up-arrow). */
export function lastOwnMessage(messages: Message[]): Message | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.outgoing) return m.retracted ? undefined : m;
  }
  return undefined;
}
