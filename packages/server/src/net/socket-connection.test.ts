// Write backpressure end to end: a client that stops reading while another floods it costs the server a bounded
// amount of memory, its stream ends with connection-timeout (RFC 6120 §4.9.3.4), and what it never acknowledged
// follows XEP-0198 (§4: routed again, here to offline storage) instead of being lost.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Jid, NS, StreamParser, type XmlElement } from '@parley/protocol';
import { startTestServer, type TestServer } from '../testing/harness';
import { enabled, waitUntil } from '../modules/xep-0198-sm/test-support';

const MAX_SEND_BUFFER = 65536;
const BODY = 'x'.repeat(8192);
/** Stops a flood that was never cut off (the bug: the server buffers for the client without limit). */
const FLOOD_LIMIT_BYTES = 48 * 1024 * 1024;

describe('c2s write backpressure (c2s.max_send_buffer)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      c2s: { max_send_buffer: MAX_SEND_BUFFER },
      // Counts high enough that only the byte bound can end the slow session.
      offline: { max_per_user: 100_000 },
      modules: { options: { sm: { max_unacked: 100_000 } } },
    } as never);
    await ts.createUser('slow');
    await ts.createUser('flooder');
  });
  after(() => ts.stop());

  it('closes a session that stops reading, keeps what waits for it bounded, and loses none of its messages', async () => {
    // Stream management without resumption: when the session ends, what it did not acknowledge is routed again.
    const { r: slow } = await enabled(ts, 'slow', 'phone', '');
    const { r: flooder } = await enabled(ts, 'flooder', 'pc', '');
    const slowPort = slow.socket.localPort;
    const slowConnection = () => ts.running.c2sConnections().find((c) => c.remotePort === slowPort);
    slow.socket.pause(); // the client no longer reads; the kernel's buffers fill first, then the server's

    const sent: string[] = [];
    let sentBytes = 0;
    let peak = 0;
    while (slowConnection() !== undefined && ts.running.server.sessions.get(Jid.parse('slow@localhost/phone')) && sentBytes < FLOOD_LIMIT_BYTES) {
      let batch = '';
      for (let i = 0; i < 16; i++) {
        const id = `m${sent.length}`;
        sent.push(id);
        batch += `<message to='slow@localhost/phone' type='chat' id='${id}'><body>${BODY}</body></message>`;
      }
      sentBytes += batch.length;
      flooder.write(batch);
      // Let the server route the batch, then look at what it holds for the slow client.
      await new Promise((resolve) => setTimeout(resolve, 5));
      peak = Math.max(peak, slowConnection()?.bufferedBytes ?? 0);
    }
    assert.ok(sentBytes < FLOOD_LIMIT_BYTES, `the slow session was never closed; the server held ${peak} bytes for it`);
    // What waits behind the undrained socket stays within the bound (plus one stanza), and the socket holds at most
    // one batch handed over before it backed up.
    const stanzaBytes = BODY.length + 200;
    assert.ok(peak <= 2 * (MAX_SEND_BUFFER + stanzaBytes) + 16 * stanzaBytes, `held ${peak} bytes for a client that does not read`);

    // The client reads again: everything it gets is well-formed, whole stanzas, then the stream error.
    slow.socket.resume();
    await slow.waitClosed(15_000);
    const received = parseStream(slow.data);
    assert.equal(received.error, 'connection-timeout');
    const delivered = new Set(received.elements.filter((el) => el.name === 'message').map((el) => el.attrs.id));

    // XEP-0198 §4: what it did not acknowledge went to offline storage, and so did what came after the session ended.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = await ts.raw();
    await again.login('slow', 'secret', 'laptop');
    again.write('<presence/>');
    const offline = new Set<string>();
    await waitUntil(() => {
      for (const m of again.data.matchAll(/<message [^>]*id='(m\d+)'/g)) offline.add(m[1]!);
      return sent.every((id) => delivered.has(id) || offline.has(id));
    }, 20_000).catch(() => {
      const lost = sent.filter((id) => !delivered.has(id) && !offline.has(id));
      assert.fail(`${lost.length} of ${sent.length} messages were lost, e.g. ${lost.slice(0, 5).join(', ')}`);
    });
    assert.ok(offline.size > 0, 'some messages waited in offline storage');
    again.destroy();
    flooder.destroy();
  });

  it('lets a client that reads take a burst larger than the bound (offline messages at login)', async () => {
    // Offline messages are written in one go at login; a reading client gets all of them.
    const sender = await ts.raw();
    await sender.login('flooder', 'secret', 'burst');
    const count = 40; // 40 × 8 KiB: five times the bound
    for (let i = 0; i < count; i++) sender.write(`<message to='slow@localhost' type='chat' id='b${i}'><body>${BODY}</body></message>`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const reader = await ts.raw();
    await reader.login('slow', 'secret', 'reader');
    reader.write(`<presence/>`);
    await reader.waitFor(`id='b${count - 1}'`, 10_000);
    assert.doesNotMatch(reader.data, /stream:error/);
    reader.write(`<iq type='get' id='still-open'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await reader.waitFor(`id='still-open'`);
    reader.destroy();
    sender.destroy();
  });
});

/** Parses what a client received: the stanzas and nonzas, and the stream error's condition if one came. */
function parseStream(data: string): { elements: XmlElement[]; error: string | undefined } {
  const elements: XmlElement[] = [];
  let failure: string | undefined;
  const parser = new StreamParser(
    {
      onOpen: () => {},
      onElement: (el) => elements.push(el),
      onClose: () => {},
      onError: (condition, text) => {
        failure = `${condition}: ${text}`;
      },
    },
    { maxStanzaSize: 1 << 20 },
  );
  // The header was consumed by login; re-open the stream for the parser.
  parser.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
  parser.write(data);
  assert.equal(failure, undefined, 'what the slow client received is well-formed');
  // The parser gives elements in their canonical form: <stream:error> is <error xmlns='…streams'>.
  const error = elements.find((el) => el.name === 'error' && el.attrs.xmlns === NS.STREAM);
  return { elements, error: error?.elements().find((c) => c.name !== 'text')?.name };
}
