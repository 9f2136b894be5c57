// How the chat app reads message features out of stanzas (packages/web/src/xmpp/message-features.ts): which id a
// change names in a chat and in a room, the reply quote cut out by its XEP-0428 range, a file only when the body is
// the OOB URL (XEP-0066), reactions cleaned of anything but single emoji, and the archive's retraction tombstone.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { readMessage as read, type StanzaNode } from '../../packages/web/src/xmpp/message-read';
import type { Message } from '../../packages/web/src/state/store';

// xmpp.js elements, typed here (types/xmpp-client.d.ts) only as far as the server tests need.
const readMessage = (el: unknown, ...rest: [Message, 'chat' | 'groupchat', { sender: string; name: string }]) => read(el as StanzaNode, ...rest);
const base: Message = { id: 'm-new', outgoing: false, body: '', time: 100 };
const bob = { sender: 'bob@x', name: 'Bob' };

describe('reading message features', () => {
  it('reads a correction of the original id, in chats and rooms alike (XEP-0308 §3)', () => {
    const el = xml('message', { type: 'chat' }, xml('body', {}, 'fixed'), xml('replace', { xmlns: 'urn:xmpp:message-correct:0', id: 'm1' }));
    assert.deepEqual(readMessage(el, base, 'chat', bob), { edit: { kind: 'correct', target: 'm1', by: 'id', sender: 'bob@x', body: 'fixed', file: undefined, time: 100 } });
    assert.equal(readMessage(el, base, 'groupchat', { sender: 'occ-1', name: 'bob' }).edit?.by, 'id');
  });

  it('reads retractions and reactions by message id in chats and by stanza-id in rooms', () => {
    const retract = xml('message', {}, xml('retract', { xmlns: 'urn:xmpp:message-retract:1', id: 'S1' }), xml('body', {}, 'fallback text'));
    assert.deepEqual(readMessage(retract, base, 'groupchat', bob).edit, { kind: 'retract', target: 'S1', by: 'stanza-id', sender: 'bob@x', time: 100 });
    assert.equal(readMessage(retract, base, 'chat', bob).edit?.by, 'id');
    assert.equal(readMessage(retract, base, 'chat', bob).message, undefined, 'the fallback body is not a message');
    const react = xml(
      'message',
      {},
      xml('reactions', { xmlns: 'urn:xmpp:reactions:0', id: 'm1' }, xml('reaction', {}, '👍'), xml('reaction', {}, 'not an emoji'), xml('reaction', {}, '👍')),
    );
    assert.deepEqual(readMessage(react, base, 'chat', bob).edit, { kind: 'react', target: 'm1', by: 'id', sender: 'bob@x', name: 'Bob', emojis: ['👍'], time: 100 });
  });

  it('cuts the reply quote out of the body by its fallback range and keeps the reference (XEP-0461)', () => {
    const quote = '> Alice wrote:\n> pizza 🍕?\n';
    const el = xml(
      'message',
      {},
      xml('body', {}, `${quote}Yes!`),
      xml('reply', { xmlns: 'urn:xmpp:reply:0', to: 'alice@x/phone', id: 'm1' }),
      xml('fallback', { xmlns: 'urn:xmpp:fallback:0', for: 'urn:xmpp:reply:0' }, xml('body', { start: '0', end: String([...quote].length) })),
    );
    const { message } = readMessage(el, base, 'chat', bob);
    assert.equal(message?.body, 'Yes!');
    assert.deepEqual(message?.reply, { id: 'm1', to: 'alice@x/phone', quote: 'pizza 🍕?' });
    // A fallback for another feature is not cut.
    const other = xml('message', {}, xml('body', {}, '> keep'), xml('fallback', { xmlns: 'urn:xmpp:fallback:0', for: 'urn:example' }, xml('body', { start: '0', end: '6' })));
    assert.equal(readMessage(other, base, 'chat', bob).message?.body, '> keep');
  });

  it('takes a file only when the body is the OOB URL, over http(s)', () => {
    const url = 'https://x:5281/upload/abc/cat.png';
    const file = xml('message', {}, xml('body', {}, url), xml('x', { xmlns: 'jabber:x:oob' }, xml('url', {}, url)));
    assert.deepEqual(readMessage(file, base, 'chat', bob).message?.file, { url });
    const mismatch = xml('message', {}, xml('body', {}, 'look at this'), xml('x', { xmlns: 'jabber:x:oob' }, xml('url', {}, url)));
    assert.equal(readMessage(mismatch, base, 'chat', bob).message?.file, undefined);
    const script = xml('message', {}, xml('body', {}, 'javascript:alert(1)'), xml('x', { xmlns: 'jabber:x:oob' }, xml('url', {}, 'javascript:alert(1)')));
    assert.equal(readMessage(script, base, 'chat', bob).message?.file, undefined);
  });

  it('shows a retraction tombstone from the archive as a deleted message (XEP-0424 §5)', () => {
    const tomb = xml('message', {}, xml('retracted', { xmlns: 'urn:xmpp:message-retract:1', stamp: '2026-01-01T00:00:00Z' }));
    assert.deepEqual(readMessage(tomb, { ...base, id: 'm1' }, 'chat', bob).message, { ...base, id: 'm1', body: '', retracted: true, sender: 'bob@x' });
  });

  it('ignores messages with nothing to show (chat states)', () => {
    assert.deepEqual(readMessage(xml('message', {}, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })), base, 'chat', bob), {});
  });
});
