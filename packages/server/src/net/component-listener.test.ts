// The XEP-0114 listener end to end over TCP: its connection bound, the component stanza size limit, and the
// configuration checks of components.list.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config';
import { RawClient, connectComponent, startTestServer, type TestServer } from '../testing/harness';

describe('component listener (XEP-0114)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      components: { list: [{ domain: 'gw.localhost', secret: 'pw' }], max_connections: 1, max_stanza_size: 10000 },
    } as never);
  });
  after(() => ts.stop());

  it('drops connections past components.max_connections', async () => {
    const first = await connectComponent(ts.componentPort, 'gw.localhost', 'pw');
    assert.match(first.data, /<handshake\/>/);
    const second = await RawClient.connect(ts.componentPort);
    await second.waitClosed();
    first.destroy();
  });

  it('closes a component stream whose stanza passes components.max_stanza_size with policy-violation', async () => {
    await new Promise((r) => setTimeout(r, 50)); // the previous test's connection is released
    const c = await connectComponent(ts.componentPort, 'gw.localhost', 'pw');
    assert.match(c.data, /<handshake\/>/);
    c.write(`<message from='gw.localhost' to='alice@localhost'><body>${'x'.repeat(12000)}</body></message>`);
    await c.waitFor('<policy-violation');
    await c.waitClosed();
  });

  it('refuses a component domain that the server or a service already uses', () => {
    assert.throws(
      () => loadConfig({ overrides: { domain: 'example.org', components: { list: [{ domain: 'conference.example.org', secret: 'x' }] } } as never }),
      /components\.list\.0\.domain.*services\.conference/s,
    );
    assert.throws(() => loadConfig({ overrides: { components: { list: [{ domain: 'gw.example.org', secret: '' }] } } as never }), /secret/);
    // A mistyped secret is not echoed in the error.
    assert.throws(
      () => loadConfig({ overrides: { components: { list: [{ domain: 'gw.example.org', secret: 918273645 }] } } as never }),
      (err: Error) => /components\.list\.0\.secret/.test(err.message) && !err.message.includes('918273645'),
    );
  });
});
