import { it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '/work/main/packages/server/src/testing/harness';
it('smoke', async () => {
  const ts = await startTestServer();
  try {
    await ts.createUser('alice');
    const a = await ts.client('alice');
    const r = await a.iq('<iq type="set" to="pubsub.localhost"><pubsub xmlns="http://jabber.org/protocol/pubsub"><create node="n1"/></pubsub></iq>');
    console.log(r.toString());
    const s = await a.iq('<iq type="set" to="pubsub.localhost"><pubsub xmlns="http://jabber.org/protocol/pubsub"><subscribe node="n1" jid="alice@localhost"/></pubsub></iq>');
    console.log(s.toString());
    const p = await a.iq('<iq type="set" to="pubsub.localhost"><pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="n1"><item><entry xmlns="e">hi</entry></item></publish></pubsub></iq>');
    console.log(p.toString());
    console.log((await a.waitFor((e) => e.name === 'message')).toString());
    console.log((await a.iq('<iq type="get" to="pubsub.localhost"><query xmlns="http://jabber.org/protocol/disco#info" node="n1"/></iq>')).toString());
    console.log((await a.iq('<iq type="get" to="pubsub.localhost"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>')).toString());
  } finally { await ts.stop(); }
});
