// XEP-0202 entity time of the server; full JIDs are the client's business.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness';
import { timezoneOffset, utcDateTime } from './index';

describe('entity time (XEP-0202)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it("answers the server's UTC time and offset (§2)", async () => {
    const alice = await ts.client('alice');
    const before = Date.now();
    const res = await alice.iq(`<iq type='get' to='localhost'><time xmlns='urn:xmpp:time'/></iq>`);
    const time = res.getChild('time', 'urn:xmpp:time')!;
    assert.match(time.getChildText('tzo')!, /^[+-]\d{2}:\d{2}$/);
    const utc = time.getChildText('utc')!;
    assert.match(utc, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.ok(Math.abs(Date.parse(utc) - before) < 5000);
  });

  it('routes time queries to full JIDs to the client', async () => {
    const alice = await ts.client('alice', { resource: 'a' });
    const bob = await ts.client('bob', { resource: 'b' });
    const pending = alice.iq(`<iq type='get' to='${bob.jid}' id='t1'><time xmlns='urn:xmpp:time'/></iq>`);
    await bob.waitFor((el) => el.name === 'iq' && el.attrs.id === 't1');
    await bob.send(`<iq type='result' to='${alice.jid}' id='t1'><time xmlns='urn:xmpp:time'><tzo>-06:00</tzo><utc>2006-12-19T17:58:35Z</utc></time></iq>`);
    const res = await pending;
    assert.equal(res.attrs.from, bob.jid);
    assert.equal(res.getChild('time')!.getChildText('tzo'), '-06:00');
  });

  it('formats offsets and UTC times as XEP-0082 requires', () => {
    const at = (offsetMinutes: number) => ({ getTimezoneOffset: () => offsetMinutes }) as Date;
    assert.equal(timezoneOffset(at(0)), '+00:00');
    assert.equal(timezoneOffset(at(-120)), '+02:00');
    assert.equal(timezoneOffset(at(330)), '-05:30');
    assert.equal(utcDateTime(new Date(Date.UTC(2006, 11, 19, 17, 58, 35, 123))), '2006-12-19T17:58:35Z');
  });
});
