// The chat app's state helpers (packages/web/src/state/store.ts), which run the same in a browser and in Node:
// merging messages from live delivery, carbons and the archive without duplicates, the best presence over a
// contact's resources, and turning links into anchors without ever producing HTML.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bestPresence, linkify, mergeMessages, Store, type Message } from '../../packages/web/src/state/store';

const msg = (id: string, time: number, extra: Partial<Message> = {}): Message => ({ id, outgoing: false, body: id, time, ...extra });

describe('web app state', () => {
  it('merges messages in time order and drops the ones it already has, by id or archive id', () => {
    const live = [msg('a', 10), msg('b', 30, { archiveId: 'A2' })];
    // The archive page has 'b' again (by archive id, under another stanza id) and an older one.
    const merged = mergeMessages(live, [msg('x', 5, { archiveId: 'A0' }), msg('b2', 30, { archiveId: 'A2' }), msg('a', 10)]);
    assert.deepEqual(
      merged.map((m) => m.id),
      ['x', 'a', 'b'],
    );
    // Nothing new: the same array, so nothing re-renders.
    assert.equal(mergeMessages(merged, [msg('a', 10)]), merged);
  });

  it('takes the most available resource as a contact presence', () => {
    assert.equal(bestPresence(undefined).show, 'offline');
    assert.equal(bestPresence({ phone: { show: 'away' }, laptop: { show: 'available', status: 'here' } }).status, 'here');
    assert.equal(bestPresence({ a: { show: 'dnd' }, b: { show: 'xa' } }).show, 'dnd');
  });

  it('finds http(s) links, leaving trailing punctuation and everything else as text', () => {
    assert.deepEqual(linkify('see https://example.org/a?b=1, or http://x.test.'), [
      { text: 'see ' },
      { text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' },
      { text: ', or ' },
      { text: 'http://x.test', href: 'http://x.test' },
      { text: '.' },
    ]);
    assert.deepEqual(linkify('<b>javascript:alert(1)</b>'), [{ text: '<b>javascript:alert(1)</b>' }]);
  });

  it('notifies subscribers only when the state changes', () => {
    const store = new Store();
    let calls = 0;
    const off = store.subscribe(() => calls++);
    store.update((s) => s);
    store.update((s) => ({ ...s, ownStatus: 'busy' }));
    off();
    store.update((s) => ({ ...s, ownStatus: 'back' }));
    assert.equal(calls, 1);
    assert.equal(store.state.ownStatus, 'back');
  });
});
