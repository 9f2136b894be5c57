// External components (XEP-0114) in a cluster: two nodes over the real Redis bus, a component connected to one of
// them and a client on the other. Stanzas reach the component across nodes and come back; the server's disco#items
// on either node list it; reconnecting to the other node replaces the old stream (conflict); once it is gone,
// stanzas bounce with service-unavailable everywhere. Needs Redis on 127.0.0.1:6379 (CI starts it).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connectComponent, isRedisUp, startTestServer, type TestServer } from '../testing/harness';
import type { ClusterNode } from './node';
import { until } from '../testing/until';

const REDIS_URL = process.env.PARLEY_TEST_REDIS ?? 'redis://127.0.0.1:6379';


describe('cluster: external components across nodes', { skip: !(await isRedisUp()) && 'Redis is not running on 127.0.0.1:6379' }, () => {
  let a: TestServer;
  let b: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'parley-cluster-comp-'));
  const name = `test-${randomBytes(4).toString('hex')}`;
  const node = (ts: TestServer) => ts.running.server.cluster as ClusterNode;
  const nodeConfig = (id: string) => ({
    storage: { backend: 'sqlite', path: join(dir, 'shared.sqlite') },
    cluster: { backend: 'redis', redis_url: REDIS_URL, name, node_id: id, nodes: ['a', 'b'] },
    components: { list: [{ domain: 'gw.localhost', secret: 'pw' }] },
  });

  before(async () => {
    a = await startTestServer(nodeConfig('a') as never);
    b = await startTestServer(nodeConfig('b') as never);
    await until('the nodes see each other', () => node(a).liveNodes().length === 2 && node(b).liveNodes().length === 2);
    await a.createUser('alice');
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes to a component on another node and back, lists it, replaces it on reconnect, bounces once it is gone', async () => {
    const onB = await connectComponent(b.componentPort, 'gw.localhost', 'pw');
    assert.match(onB.data, /<handshake\/>/);
    await until('node a knows the component', () => a.running.server.components.isConnected('gw.localhost'));
    const alice = await a.client('alice', { resource: 'r' });

    const items = await alice.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    assert.ok(items.getChild('query')?.getChildren('item').some((i) => i.attrs.jid === 'gw.localhost'), items.toString());

    await alice.send(`<message to='chan%irc@gw.localhost' id='x1'><body>across</body></message>`);
    await onB.waitFor(/<message [^>]*id=['"]x1['"][^>]*>/);
    assert.ok(onB.data.includes(`from='${alice.jid}'`) || onB.data.includes(`from="${alice.jid}"`), onB.data);
    onB.write(`<message from='chan%irc@gw.localhost/bob' to='${alice.jid}' id='x2' type='chat'><body>back</body></message>`);
    await alice.waitFor((el) => el.attrs.id === 'x2' && el.getChildText('body') === 'back');

    // The component reconnects, this time to node a: the stream on node b is replaced.
    const onA = await connectComponent(a.componentPort, 'gw.localhost', 'pw');
    assert.match(onA.data, /<handshake\/>/);
    await onB.waitFor('<conflict ');
    await onB.waitClosed();
    await new Promise((r) => setTimeout(r, 100));
    await alice.send(`<message to='gw.localhost' id='x3'><body>local now</body></message>`);
    await onA.waitFor(/id=['"]x3['"]/);
    assert.doesNotMatch(onB.data, /x3/);
    await until('node b routes to a', () => b.running.server.components.isConnected('gw.localhost'));

    // Gone from both nodes: stanzas bounce, and disco#items no longer lists it.
    onA.write('</stream:stream>');
    await onA.waitClosed();
    await until('node b forgot the component', () => !b.running.server.components.isConnected('gw.localhost'));
    await alice.send(`<message to='chan%irc@gw.localhost' id='x4'><body>hello?</body></message>`);
    const bounce = await alice.waitFor((el) => el.attrs.id === 'x4' && el.attrs.type === 'error');
    assert.ok(bounce.getChild('error')?.getChild('service-unavailable'), bounce.toString());
    const after = await alice.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    assert.ok(!after.getChild('query')?.getChildren('item').some((i) => i.attrs.jid === 'gw.localhost'));
  });
});
