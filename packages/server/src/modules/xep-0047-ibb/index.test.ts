// XEP-0047 needs nothing from the server but RFC 6121 §8.5 routing between full JIDs: an open/data/close
// exchange, with data in iqs (§2.2) and in a message (§3), reaches the other client untouched.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer } from '../../testing/harness';

const IBB = 'http://jabber.org/protocol/ibb';

describe('XEP-0047 in-band bytestreams between two clients', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['romeo', 'juliet']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('passes open, data and close through untouched, and the results back', async () => {
    const romeo = await ts.client('romeo', { resource: 'orchard' });
    const juliet = await ts.client('juliet', { resource: 'balcony' });
    // Juliet's client accepts the bytestream (xmpp.js would otherwise answer unknown iqs with an error itself).
    for (const name of ['open', 'data', 'close']) (juliet.xmpp as any).iqCallee.set(IBB, name, () => true);

    const sid = 'i781hf64';
    const file = randomBytes(10_000);
    const blockSize = 4096;
    const chunks: string[] = [];
    for (let i = 0; i < file.length; i += blockSize) chunks.push(file.subarray(i, i + blockSize).toString('base64'));

    const payloads = [
      `<open xmlns='${IBB}' block-size='${blockSize}' sid='${sid}' stanza='iq'/>`,
      ...chunks.slice(0, -1).map((c, seq) => `<data xmlns='${IBB}' seq='${seq}' sid='${sid}'>${c}</data>`),
    ];
    let n = 0;
    for (const p of payloads) {
      const id = `ibb${n++}`;
      const result = await romeo.iq(`<iq type='set' to='${juliet.jid}' id='${id}'>${p}</iq>`);
      assert.equal(result.attrs.type, 'result', result.toString());
      assert.equal(result.attrs.from, juliet.jid);
      const got = await juliet.waitFor((el) => el.name === 'iq' && el.attrs.id === id);
      assert.equal(got.attrs.from, romeo.jid);
      assert.equal(got.attrs.type, 'set');
      assert.equal(got.elements()[0]!.toString(), p);
    }
    // §3: the last block in a message stanza.
    const last = `<data xmlns='${IBB}' seq='${chunks.length - 1}' sid='${sid}'>${chunks.at(-1)}</data>`;
    await romeo.send(`<message to='${juliet.jid}' id='ibb-msg'>${last}</message>`);
    const msg = await juliet.waitFor((el) => el.name === 'message' && el.attrs.id === 'ibb-msg');
    assert.equal(msg.attrs.from, romeo.jid);
    assert.equal(msg.getChild('data', IBB)!.toString(), last);

    const close = await romeo.iq(`<iq type='set' to='${juliet.jid}' id='ibb-close'><close xmlns='${IBB}' sid='${sid}'/></iq>`);
    assert.equal(close.attrs.type, 'result');

    // What Juliet received reassembles into the file.
    const blocks = juliet.received
      .map((el) => el.getChild('data', IBB))
      .filter((d) => d !== undefined && d.attrs.sid === sid)
      .sort((a, b) => Number(a!.attrs.seq) - Number(b!.attrs.seq))
      .map((d) => Buffer.from(d!.text(), 'base64'));
    assert.ok(Buffer.concat(blocks).equals(file));
  });
});
