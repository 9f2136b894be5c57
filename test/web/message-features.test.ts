// The chat app's rules for changing messages (packages/web/src/state/message-features.ts): a correction or
// retraction applies only when it comes from the message's sender (XEP-0308 §5, XEP-0424 §7), never from someone
// reusing the id; changes wait for a message the archive has not delivered yet; reactions are each sender's whole
// set, single emoji only, counted per emoji; reply fallbacks (XEP-0428) are cut out by code point.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { emptyChat, type Message } from '../../packages/web/src/state/store';
import {
  applyEdit,
  cleanReactions,
  integrate,
  isSingleEmoji,
  lastOwnMessage,
  MAX_REACTIONS_PER_SENDER,
  ROOM_MODERATION,
  quoteText,
  replyFallback,
  stripFallback,
  summarizeReactions,
  toggleReaction,
  type MessageEdit,
} from '../../packages/web/src/state/message-features';

const msg = (id: string, sender: string, extra: Partial<Message> = {}): Message => ({ id, sender, outgoing: sender === 'me@x', body: `text of ${id}`, time: 10, ...extra });

describe('message corrections and retractions', () => {
  it('applies a correction from the sender and refuses one from anyone else, in chats and rooms', () => {
    const messages = [msg('m1', 'bob@x'), msg('m2', 'me@x')];
    const fromBob: MessageEdit = { kind: 'correct', target: 'm1', by: 'id', sender: 'bob@x', body: 'fixed', time: 20 };
    const after = applyEdit(messages, fromBob);
    assert.notEqual(after, 'missing');
    assert.equal((after as Message[])[0]!.body, 'fixed');
    assert.equal((after as Message[])[0]!.editedAt, 20);
    // Mallory names Bob's message id: no message of hers has it, so nothing is found and nothing changes.
    const forged: MessageEdit = { kind: 'correct', target: 'm1', by: 'id', sender: 'mallory@x', body: 'pwned', time: 30 };
    assert.equal(applyEdit(messages, forged), 'missing');
    // In a room the sender is the occupant-id: another occupant, even under the same nick later, is refused.
    const room = [msg('r1', 'occ-A', { archiveId: 'S1', nick: 'bob' })];
    assert.equal(applyEdit(room, { kind: 'correct', target: 'r1', by: 'id', sender: 'occ-B', body: 'x', time: 30 }), 'missing');
    assert.equal((applyEdit(room, { kind: 'correct', target: 'r1', by: 'id', sender: 'occ-A', body: 'y', time: 30 }) as Message[])[0]!.body, 'y');
  });

  it('keeps the newest correction when an older one comes later (from the archive)', () => {
    let messages = [msg('m1', 'bob@x')];
    messages = applyEdit(messages, { kind: 'correct', target: 'm1', by: 'id', sender: 'bob@x', body: 'second', time: 30 }) as Message[];
    const again = applyEdit(messages, { kind: 'correct', target: 'm1', by: 'id', sender: 'bob@x', body: 'first', time: 20 });
    assert.equal(again, messages);
  });

  it('retracts only for the sender; a retracted message takes no correction or reaction', () => {
    const messages = [msg('m1', 'bob@x', { archiveId: 'S1', reactions: { 'me@x': { name: 'You', emojis: ['👍'], at: 5 } } })];
    const byOther = applyEdit(messages, { kind: 'retract', target: 'S1', by: 'stanza-id', sender: 'me@x', time: 20 });
    assert.equal(byOther, messages);
    const retracted = applyEdit(messages, { kind: 'retract', target: 'S1', by: 'stanza-id', sender: 'bob@x', time: 20 }) as Message[];
    assert.deepEqual({ body: retracted[0]!.body, retracted: retracted[0]!.retracted, reactions: retracted[0]!.reactions }, { body: '', retracted: true, reactions: undefined });
    assert.equal(applyEdit(retracted, { kind: 'correct', target: 'm1', by: 'id', sender: 'bob@x', body: 'back', time: 30 }), retracted);
    assert.equal(applyEdit(retracted, { kind: 'react', target: 'S1', by: 'stanza-id', sender: 'me@x', name: 'You', emojis: ['😂'], time: 30 }), retracted);
  });

  it("applies a room's own moderation (XEP-0425) to anyone's message", () => {
    const messages = [msg('m1', 'occ-A', { archiveId: 'S1' })];
    const moderated = applyEdit(messages, { kind: 'retract', target: 'S1', by: 'stanza-id', sender: ROOM_MODERATION, time: 20 }) as Message[];
    assert.equal(moderated[0]!.retracted, true);
    // It retracts only: a "correction" in the room's name is still someone else's.
    assert.equal(applyEdit(messages, { kind: 'correct', target: 'm1', by: 'id', sender: ROOM_MODERATION, body: 'x', time: 20 }), 'missing');
  });

  it('names group chat messages by the room stanza-id and one-to-one messages by their id', () => {
    const messages = [msg('origin-1', 'occ-A', { archiveId: 'room-sid-1' })];
    assert.equal(applyEdit(messages, { kind: 'retract', target: 'origin-1', by: 'stanza-id', sender: 'occ-A', time: 20 }), 'missing');
    assert.notEqual(applyEdit(messages, { kind: 'retract', target: 'room-sid-1', by: 'stanza-id', sender: 'occ-A', time: 20 }), 'missing');
    assert.equal(applyEdit(messages, { kind: 'retract', target: 'room-sid-1', by: 'id', sender: 'occ-A', time: 20 }), 'missing');
  });

  it('keeps a change until its message arrives (archive pages come newest first), then applies it', () => {
    const edit: MessageEdit = { kind: 'correct', target: 'old', by: 'id', sender: 'bob@x', body: 'corrected', time: 50 };
    let chat = integrate(emptyChat('bob@x'), [msg('new', 'bob@x', { time: 40 })], [edit]);
    assert.equal(chat.pendingEdits?.length, 1);
    chat = integrate(chat, [msg('old', 'bob@x', { time: 5 })], []);
    assert.deepEqual(
      chat.messages.map((m) => [m.id, m.body]),
      [
        ['old', 'corrected'],
        ['new', 'text of new'],
      ],
    );
    assert.deepEqual(chat.pendingEdits, []);
  });

  it('offers the last own message for correction, unless it was deleted', () => {
    assert.equal(lastOwnMessage([msg('a', 'me@x'), msg('b', 'bob@x')])?.id, 'a');
    assert.equal(lastOwnMessage([msg('a', 'me@x'), msg('b', 'me@x', { retracted: true })]), undefined);
    assert.equal(lastOwnMessage([msg('b', 'bob@x')]), undefined);
  });
});

describe('message reactions', () => {
  it('replaces a sender set, counts per emoji with names, and marks mine', () => {
    let messages = [msg('m1', 'bob@x')];
    const react = (sender: string, name: string, emojis: string[], time: number) =>
      (messages = applyEdit(messages, { kind: 'react', target: 'm1', by: 'id', sender, name, emojis, time }) as Message[]);
    react('me@x', 'You', ['👍', '❤️'], 1);
    react('bob@x', 'Bob', ['👍'], 2);
    react('carol@x', 'Carol', ['😂'], 3);
    react('carol@x', 'Carol', ['👍'], 4); // replaces her 😂
    assert.deepEqual(summarizeReactions(messages[0]!, 'me@x'), [
      { emoji: '👍', count: 3, names: ['You', 'Bob', 'Carol'], mine: true },
      { emoji: '❤️', count: 1, names: ['You'], mine: true },
    ]);
    // An older set (from the archive) does not undo a newer one; an empty set removes the sender.
    react('carol@x', 'Carol', ['😂'], 3);
    assert.equal(summarizeReactions(messages[0]!, 'me@x')[0]!.count, 3);
    react('me@x', 'You', [], 5);
    assert.deepEqual(summarizeReactions(messages[0]!, 'me@x'), [{ emoji: '👍', count: 2, names: ['Bob', 'Carol'], mine: false }]);
  });

  it('toggles my own reaction', () => {
    const m = msg('m1', 'bob@x', { reactions: { 'me@x': { name: 'You', emojis: ['👍'], at: 1 } } });
    assert.deepEqual(toggleReaction(m, 'me@x', '👍'), []);
    assert.deepEqual(toggleReaction(m, 'me@x', '🎉'), ['👍', '🎉']);
  });

  it('accepts single emoji only (flags, skin tones, ZWJ sequences, keycaps), each once, a few per sender', () => {
    for (const e of ['👍', '❤️', '🇫🇷', '👍🏽', '👩‍💻', '1️⃣']) assert.ok(isSingleEmoji(e), e);
    for (const e of ['', 'a', 'lol', '👍👍', '<b>', '1']) assert.ok(!isSingleEmoji(e), e);
    assert.deepEqual(cleanReactions(['👍', 'spam', '👍', ' 🎉 ']), ['👍', '🎉']);
    const many = ['😀', '😁', '😂', '🤣', '😊', '😇', '🙂', '😉', '😍', '😘', '😋', '😎', '🤔', '🤨', '😐'];
    assert.equal(cleanReactions(many).length, MAX_REACTIONS_PER_SENDER);
  });
});

describe('reply fallbacks (XEP-0461 with XEP-0428)', () => {
  it('cuts the fallback by code points, so emoji before it do not shift the range', () => {
    const quote = replyFallback('Bob', 'pizza 🍕 tonight?');
    assert.equal(quote, '> Bob wrote:\n> pizza 🍕 tonight?\n');
    const body = `${quote}Yes 👍`;
    const { text, removed } = stripFallback(body, [{ start: 0, end: [...quote].length }]);
    assert.equal(text, 'Yes 👍');
    assert.equal(quoteText(removed), 'pizza 🍕 tonight?');
  });

  it('ignores ranges outside the body and treats a range without bounds as the whole body', () => {
    assert.deepEqual(stripFallback('hello', [{ start: 3, end: 99 }]), { text: 'hello', removed: '' });
    assert.deepEqual(stripFallback('hello', [{ start: 4, end: 2 }]), { text: 'hello', removed: '' });
    assert.deepEqual(stripFallback('hello', [{}]), { text: '', removed: 'hello' });
  });
});
