// `parley status` on a real server: sessions split by transport, as clients really connect (TCP and WebSocket).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../testing/harness';

describe('status command', () => {
  let ts: TestServer;
  before(async () => {
    // A loopback WebSocket would count as secure (websocket.loopback_is_secure): these tests count real encryption.
    ts = await startTestServer({ websocket: { loopback_is_secure: false } });
    await ts.createUser('alice');
  });
  after(() => ts.stop());

  it('counts sessions by transport: TCP streams and WebSocket apart, each by encryption', async () => {
    const tcp = await ts.client('alice', { resource: 'desk' });
    const ws = await ts.client('alice', { resource: 'web', websocket: true });
    const raw = await ts.raw();
    await raw.login('alice', 'secret', 'raw');

    const status = await ts.running.server.commands.get('status')!.run({}, undefined);
    const field = (name: string) => status.fields?.find((f) => f.name === name)?.values[0];
    // xmpp.js takes the STARTTLS offered on the test server's port; the raw client stays unencrypted.
    assert.equal(field('sessions.c2s_tls'), '1');
    assert.equal(field('sessions.c2s_plain'), '1');
    // The test server's HTTP listener is plain: ws://.
    assert.equal(field('sessions.websocket_plain'), '1');
    assert.equal(field('sessions.websocket_tls'), '0');
    assert.equal(field('sessions.other_nodes'), '0');

    await ws.stop();
    await tcp.stop();
    raw.destroy();
  });
});
