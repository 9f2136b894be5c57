// RFC 6120 §4.9.1.1/§4.9.3: the entity that receives a stream error closes the stream without answering
// with a stream error of its own (two parties each answering the other's error would never end).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../testing/harness';

const CLIENT_ERROR = "<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";

describe("a client's <stream:error>", () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    await ts.createUser('bob');
  });
  after(() => ts.stop());

  it('during negotiation: the server closes its stream and sends no stream error', async () => {
    const r = await ts.raw();
    r.open();
    await r.waitFor('</stream:features>');
    r.data = '';
    r.write(CLIENT_ERROR);
    await r.waitClosed();
    assert.equal(r.data, '</stream:stream>');
  });

  it('on an established stream: the server closes its stream and sends no stream error', async () => {
    const r = await ts.raw();
    await r.login('bob');
    r.write(CLIENT_ERROR);
    await r.waitClosed();
    assert.equal(r.data, '</stream:stream>');
    assert.equal(ts.running.server.sessions.ofAccount('bob@localhost').length, 0);
  });
});
