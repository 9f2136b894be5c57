// XEP-0198 §4 sequence numbers: unsignedInt values that wrap from 2^32-1 to 0.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { xml } from '@parley/protocol';
import type { ClientStream } from '../../core/client-stream';
import { SmState, incrementH, parseH } from './state';

const stanza = (n: number) => ({ stanza: xml('message', { id: String(n) }), at: 0 });

describe('XEP-0198 counters', () => {
  it('parses h as an unsignedInt and nothing else', () => {
    assert.equal(parseH('0'), 0);
    assert.equal(parseH('4294967295'), 4294967295);
    for (const bad of [undefined, '', '-1', '1.5', ' 1', '0x10', '4294967296', '99999999999']) assert.equal(parseH(bad), undefined, bad);
  });

  it('wraps the handled count from 2^32-1 to 0', () => {
    assert.equal(incrementH(4294967295), 0);
    assert.equal(incrementH(41), 42);
  });

  it('acknowledges across the wrap, and tells too-high from stale', () => {
    const sm = new SmState({} as ClientStream);
    sm.acked = 4294967294;
    sm.unacked.push(stanza(1), stanza(2), stanza(3));
    assert.equal(sm.sent, 1);
    assert.equal(sm.check(2), 'too-high');
    assert.equal(sm.check(4294967293), 'stale');
    assert.equal(sm.ack(0), 'ok');
    assert.deepEqual(sm.unacked.map((u) => u.stanza.attrs.id), ['3']);
    assert.equal(sm.acked, 0);
    assert.equal(sm.ack(0), 'ok'); // the same h again acknowledges nothing new
    assert.equal(sm.unacked.length, 1);
    assert.equal(sm.ack(1), 'ok');
    assert.equal(sm.unacked.length, 0);
  });

  it('answers <enable/> with the SM-ID and window only when the session is resumable', () => {
    const sm = new SmState({} as ClientStream);
    assert.equal(sm.enabled().toString(), "<enabled xmlns='urn:xmpp:sm:3'/>");
    sm.id = 'abc';
    sm.window = 60;
    assert.equal(sm.enabled().toString(), "<enabled xmlns='urn:xmpp:sm:3' id='abc' resume='true' max='60'/>");
  });
});
