// Reading the message features out of an incoming message: corrections (XEP-0308), retractions (XEP-0424, and
// the archive's tombstones), replies (XEP-0461, the quote cut out by its XEP-0428 fallback range), reactions
// (XEP-0444) and files (XEP-0066). Plain data in, plain data out (no DOM), so it is tested in Node.
import { NS } from '@parley/protocol';
import type { Chat, Message } from '../state/store';
import { cleanReactions, quoteText, stripFallback, type MessageEdit, type TargetBy } from '../state/message-features';

/** The part of an xmpp.js element read here. */
export interface StanzaNode {
  attrs: Record<string, string | undefined>;
  getChild(name: string, ns?: string): StanzaNode | undefined;
  getChildren(name: string, ns?: string): StanzaNode[];
  getChildText(name: string, ns?: string): string | null;
  text(): string;
}

/** Who sent a message, as the receiving side knows it. */
export interface Author {
  /** Bare JID (one-to-one) or occupant-id / nick:<nick> (room): see Message.sender. */
  sender: string;
  /** What to show: the contact's name or the nick. */
  name: string;
}

/** What an incoming message is: a message to show, a change to an earlier one, or neither (chat state, receipt). */
export interface ReadMessage {
  message?: Message;
  edit?: MessageEdit;
}

/**
 * Reads the features of `el`, given the plain message the caller made of it (`base`: ids, time, direction) and
 * its author. `kind` decides which id a change names (see TargetBy).
 */
export function readMessage(el: StanzaNode, base: Message, kind: Chat['kind'], author: Author): ReadMessage {
  const time = base.time;
  const byForRefs: TargetBy = kind === 'groupchat' ? 'stanza-id' : 'id';
  const retract = el.getChild('retract', NS.RETRACT);
  if (retract?.attrs.id) return { edit: { kind: 'retract', target: retract.attrs.id, by: byForRefs, sender: author.sender, time } };
  const reactions = el.getChild('reactions', NS.REACTIONS);
  if (reactions?.attrs.id) {
    const emojis = cleanReactions(reactions.getChildren('reaction').map((r) => r.text()));
    return { edit: { kind: 'react', target: reactions.attrs.id, by: byForRefs, sender: author.sender, name: author.name, emojis, time } };
  }
  // §5 of XEP-0424: what the archive keeps of a retracted message.
  if (el.getChild('retracted', NS.RETRACT)) return { message: { ...base, body: '', retracted: true, sender: author.sender } };
  const rawBody = el.getChildText('body');
  if (rawBody === null) return {};
  const { body, reply } = readBody(el, rawBody);
  const oobUrl = el.getChild('x', NS.OOB)?.getChildText('url')?.trim();
  // XEP-0066 as used with uploads: the body is the URL itself, so a client without OOB shows a link.
  const file = oobUrl && oobUrl === body.trim() && /^https?:\/\//.test(oobUrl) ? { url: oobUrl } : undefined;
  const replace = el.getChild('replace', NS.CORRECT);
  if (replace?.attrs.id) {
    // XEP-0308 §3: the id of the message corrected, always the original one (never a correction's).
    return { edit: { kind: 'correct', target: replace.attrs.id, by: 'id', sender: author.sender, body, file, time } };
  }
  return { message: { ...base, body, sender: author.sender, reply, file } };
}

/** XEP-0461: the reply reference, and the body without the quote put there for other clients (XEP-0428). */
function readBody(el: StanzaNode, rawBody: string): { body: string; reply?: Message['reply'] } {
  const reply = el.getChild('reply', NS.REPLY);
  const fallbacks = el.getChildren('fallback', NS.FALLBACK).filter((f) => f.attrs.for === NS.REPLY);
  const ranges = fallbacks.flatMap((f) =>
    f.getChildren('body').map((b) => ({ start: b.attrs.start === undefined ? undefined : Number(b.attrs.start), end: b.attrs.end === undefined ? undefined : Number(b.attrs.end) })),
  );
  if (!reply?.attrs.id) return { body: rawBody };
  if (ranges.length === 0) return { body: rawBody, reply: { id: reply.attrs.id, to: reply.attrs.to } };
  const { text, removed } = stripFallback(rawBody, ranges);
  return { body: text.replace(/^\n+/, ''), reply: { id: reply.attrs.id, to: reply.attrs.to, quote: quoteText(removed) || undefined } };
}

