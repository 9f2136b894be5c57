// XEP-0198 with SASL2 and Bind 2 inline (XEP-0388, XEP-0386), and the module's limits, with a raw socket.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Jid } from '@parley/protocol';
import { startTestServer, RawClient, type TestServer } from '../../testing/harness';
import { SM, authenticate, enabled } from './test-support';

describe('XEP-0198 inline with SASL2 (XEP-0388) and Bind 2 (XEP-0386)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob']) await ts.createUser(u);
  });
  after(() => ts.stop());

  const plain = (user: string) => Buffer.from(`\0${user}\0secret`).toString('base64');
  async function authenticate2(r: RawClient, user: string, inline: string): Promise<string> {
    r.open();
    await r.waitFor('</stream:features>');
    r.data = '';
    r.write(
      `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>${plain(user)}</initial-response>` +
        `<user-agent id='0b5d4a2e-sm-test'/>${inline}</authenticate>`,
    );
    return r.waitFor('</success>');
  }

  it('enables stream management inside <bind/>, and resumes inside <authenticate/> with the unacked stanzas after <success/>', async () => {
    const r = await ts.raw();
    const success = await authenticate2(r, 'alice', `<bind xmlns='urn:xmpp:bind:0'><tag>phone</tag><enable xmlns='${SM}' resume='true'/></bind>`);
    const id = /<bound xmlns='urn:xmpp:bind:0'><enabled xmlns='urn:xmpp:sm:3' id='([^']+)' resume='true' max='300'\/><\/bound>/.exec(success)?.[1];
    assert.ok(id, success);
    const jid = /<authorization-identifier>([^<]+)</.exec(success)![1]!;
    assert.match(jid, /^alice@localhost\/phone\./);
    r.write(`<presence/>`);
    const bob = await ts.client('bob');
    await bob.send(`<message to='${jid}' type='chat' id='s1'><body>one</body></message>`);
    await r.waitFor(/id='s1'/);
    r.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await bob.send(`<message to='${jid}' type='chat' id='s2'><body>two</body></message>`);

    const n = await ts.raw();
    // A <bind/> in the same request is ignored when the resumption succeeds (the session has its resource).
    const data = await authenticate2(n, 'alice', `<resume xmlns='${SM}' previd='${id}' h='0'/><bind xmlns='urn:xmpp:bind:0'><tag>phone</tag></bind>`);
    assert.match(data, new RegExp(`<authorization-identifier>${jid}</authorization-identifier><resumed xmlns='${SM}' previd='${id}' h='1'/></success>`));
    assert.doesNotMatch(data, /<bound/);
    const after = await n.waitFor(/id='s2'[^]*<r xmlns='urn:xmpp:sm:3'\/>/);
    assert.ok(after.indexOf('</success>') < after.indexOf("id='s1'"));
    assert.ok(after.indexOf("id='s1'") < after.indexOf("id='s2'"));
    assert.doesNotMatch(after, /<stream:features>/);
    n.write(`<message to='${bob.jid}' type='chat' id='s3'><body>back</body></message>`);
    assert.equal((await bob.waitFor((el) => el.attrs.id === 's3')).attrs.from, jid);
    n.destroy();
  });

  it('a failed inline resumption is reported in <success/> and the <bind/> of the same request binds', async () => {
    const r = await ts.raw();
    const data = await authenticate2(r, 'alice', `<resume xmlns='${SM}' previd='unknown' h='0'/><bind xmlns='urn:xmpp:bind:0'><tag>desk</tag></bind>`);
    assert.match(data, /<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'\/><\/failed><bound xmlns='urn:xmpp:bind:0'\/><\/success>/);
    r.destroy();
  });
});

describe('XEP-0198 limits', () => {
  it('a client that falls max_unacked behind is disconnected with resource-constraint', async () => {
    const ts = await startTestServer({ modules: { options: { sm: { max_unacked: 3, request_ack_every: 100 } } } } as never);
    try {
      await ts.createUser('alice');
      await ts.createUser('bob');
      const bob = await ts.client('bob');
      const { r } = await enabled(ts, 'alice', 'slow', '');
      for (let i = 0; i < 4; i++) await bob.send(`<message to='alice@localhost/slow' type='chat'><body>${i}</body></message>`);
      await r.waitClosed();
      assert.match(r.data, /<resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
      assert.doesNotMatch(r.data, /<r xmlns/); // request_ack_every: 100
    } finally {
      await ts.stop();
    }
  });

  it('an idle timeout (connection-timeout) leaves a resumable session waiting, and the client resumes it', async () => {
    const ts = await startTestServer({ c2s: { idle_timeout_s: 1, whitespace_ping_s: 0 } } as never);
    try {
      await ts.createUser('alice');
      const { r, id } = await enabled(ts, 'alice', 'idle');
      await r.waitClosed(5000);
      assert.match(r.data, /<connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
      assert.ok(ts.running.server.sessions.get(Jid.parse('alice@localhost/idle')));
      const n = await ts.raw();
      await authenticate(n, 'alice');
      n.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
      await n.waitFor(`<resumed xmlns='${SM}' previd='${id}' h='0'/>`);
      n.destroy();
    } finally {
      await ts.stop();
    }
  });

  it('resume_timeout_s: 0 turns resumption off', async () => {
    const ts = await startTestServer({ modules: { options: { sm: { resume_timeout_s: 0 } } } } as never);
    try {
      await ts.createUser('alice');
      const { r, id } = await enabled(ts, 'alice', 'x');
      assert.equal(id, '');
      r.destroy();
    } finally {
      await ts.stop();
    }
  });
});
