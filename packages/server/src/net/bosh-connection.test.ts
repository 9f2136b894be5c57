// A BOSH session (XEP-0124) without HTTP: bodies in, the stream machine's events and the responses out, to check
// what the end-to-end tests cannot easily see — acknowledgements (§9), a repeat of a request still held (§14.3),
// held requests beyond 'hold' answered at once (§7), the terminating body after a stream error (XEP-0206 §7).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StreamError, parseXml, type XmlElement, NS } from '@parley/protocol';
import type { FramedHandlers } from './connection';
import { BoshConnection, type BoshSessionParams } from './bosh-connection';

const HTTPBIND = 'http://jabber.org/protocol/httpbind';

function session(overrides: Partial<BoshSessionParams> = {}) {
  const conn = new BoshConnection({
    sid: 'sid1', creationRid: 100, hold: 1, wait: 30, inactivity: 30, polling: 0, maxPause: 0, ver: '1.11',
    acks: false, xmppVersion: '1.0', maxPending: 100, remoteAddress: '127.0.0.1', secure: false, ...overrides,
  });
  const events: string[] = [];
  const handlers: FramedHandlers = {
    onOpen: (h) => void events.push(`open ${h.attrs.version}`),
    onElement: (el) => void events.push(`element ${el.attrs.id}`),
    onClose: () => void events.push('close'),
    onError: (e: StreamError) => void events.push(`error ${e.condition}`),
    onTransportClosed: () => void events.push('gone'),
  };
  conn.setHandlers(handlers);
  const responses = new Map<number, XmlElement[]>();
  const request = (rid: number, content = '', attrs = ''): Promise<XmlElement> =>
    new Promise((resolve) => {
      const body = parseXml(`<body xmlns='${HTTPBIND}' rid='${rid}' sid='sid1'${attrs}>${content}</body>`);
      const respond = (text: string) => {
        const el = parseXml(text);
        responses.set(rid, [...(responses.get(rid) ?? []), el]);
        resolve(el);
      };
      if (rid === 100) conn.start(body, respond);
      else conn.handle(body, respond);
    });
  const tick = () => new Promise((r) => setImmediate(r));
  return { conn, events, request, responses, tick };
}

describe('BOSH session (XEP-0124)', () => {
  it('opens the stream with the creation request and answers it with the session attributes and the features', async () => {
    const { conn, events, request } = session();
    const created = request(100);
    assert.deepEqual(events, ['open 1.0']);
    conn.openStream({ id: 'stream-1', from: 'localhost' });
    conn.send("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>");
    const body = await created;
    assert.equal(body.attrs.sid, 'sid1');
    assert.equal(body.attrs.authid, 'stream-1');
    assert.equal(body.attrs.from, 'localhost');
    assert.equal(body.attrs.requests, '2');
    assert.ok(body.getChild('features', NS.STREAM));
    conn.destroy();
  });

  it('answers the oldest held request when more than hold are open, with ack naming the latest rid (§9.2)', async () => {
    const { conn, request, responses, tick } = session({ acks: true });
    const created = request(100);
    conn.openStream({ id: 's', from: 'localhost' });
    conn.send('<stream:features/>');
    assert.equal((await created).attrs.ack, '100', '§9.1: acknowledgements on');
    const first = request(101);
    await tick();
    assert.equal(responses.has(101), false, 'held: nothing to say');
    void request(102);
    const answered = await first;
    assert.equal(answered.attrs.ack, '102');
    conn.destroy();
  });

  it('gives a repeated rid still held the answer in place of the first request (§14.3)', async () => {
    const { conn, request } = session();
    const created = request(100);
    conn.openStream({ id: 's', from: 'localhost' });
    conn.send('<stream:features/>');
    await created;
    let firstAnswered = false;
    void request(101).then(() => (firstAnswered = true));
    const repeat = request(101);
    conn.send("<message id='m1'/>");
    const body = await repeat;
    assert.equal(body.getChild('message')?.attrs.id, 'm1');
    assert.equal(firstAnswered, false);
    conn.destroy();
  });

  it('hands stanzas to the stream in rid order, whatever order the requests arrive in', async () => {
    const { conn, events, request } = session();
    const created = request(100);
    conn.send('<stream:features/>');
    await created;
    void request(102, "<message id='second'/>");
    assert.deepEqual(events, ['open 1.0'], '102 waits for 101');
    void request(101, "<message id='first'/>");
    assert.deepEqual(events, ['open 1.0', 'element first', 'element second']);
    conn.destroy();
  });

  it('ends the session with policy-violation when more than requests are open at once (§11)', async () => {
    const { conn, events, request } = session();
    const created = request(100);
    conn.send('<stream:features/>');
    await created;
    void request(101);
    void request(103);
    const third = await request(102);
    assert.equal(third.attrs.condition, 'policy-violation');
    assert.equal(events.at(-1), 'gone');
  });

  it('ends with a terminating body naming remote-stream-error after a stream error (XEP-0206 §7)', async () => {
    const { conn, events, request } = session();
    const created = request(100);
    conn.openStream({ id: 's', from: 'localhost' });
    conn.send('<stream:features/>');
    await created;
    const held = request(101);
    conn.send(new StreamError('policy-violation').toElement().toString());
    conn.closeStream();
    conn.end();
    const body = await held;
    assert.equal(body.attrs.type, 'terminate');
    assert.equal(body.attrs.condition, 'remote-stream-error');
    assert.ok(body.getChild('error', NS.STREAM)?.getChild('policy-violation'));
    assert.equal(events.at(-1), 'gone');
    assert.equal(conn.isGone, true);
  });
});
