// Two Parley nodes serving one domain over the real Redis bus and one shared SQLite database, with xmpp.js
// clients on either node: routing (RFC 6121 §8.5), presence, offline storage, resource conflicts, carbons,
// MUC rooms placed on one node, cache invalidation, and a node leaving. Needs Redis on 127.0.0.1:6379 (CI
// starts it); tagged so that a machine without Redis says so instead of failing obscurely.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { XmlElement } from '@parley/protocol';
import { isRedisUp, startTestServer, type TestClient, type TestServer } from '../testing/harness';
import { RemoteSession } from './remote-session';
import type { ClusterNode } from './node';
import { until } from '../testing/until';

const REDIS_URL = process.env.PARLEY_TEST_REDIS ?? 'redis://127.0.0.1:6379';


const body = (text: string) => (el: XmlElement) => el.name === 'message' && el.getChildText('body') === text;

describe('cluster: two nodes, one domain', { skip: !(await isRedisUp()) && 'Redis is not running on 127.0.0.1:6379' }, () => {
  let a: TestServer;
  let b: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'parley-cluster-'));
  const name = `test-${randomBytes(4).toString('hex')}`;
  const node = (ts: TestServer) => ts.running.server.cluster as ClusterNode;

  const nodeConfig = (id: string) => ({
    storage: { backend: 'sqlite', path: join(dir, 'shared.sqlite') },
    cluster: { backend: 'redis', redis_url: REDIS_URL, name, node_id: id, nodes: ['a', 'b'] },
  });

  before(async () => {
    a = await startTestServer(nodeConfig('a') as never);
    b = await startTestServer(nodeConfig('b') as never);
    await until('the nodes see each other', () => node(a).liveNodes().length === 2 && node(b).liveNodes().length === 2);
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) await a.createUser(u);
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Both nodes know `full` is bound (and available, when asked). */
  const knownEverywhere = (full: string, available = true) =>
    until(`${full} is in both directories`, () =>
      [a, b].every((ts) => {
        const s = [...ts.running.server.sessions.all()].find((x) => x.jid.toString() === full);
        return s !== undefined && (!available || s.available);
      }),
    );

  async function subscribeBoth(x: TestClient, xNode: TestServer, y: TestClient, yNode: TestServer): Promise<void> {
    const xBare = x.jid.split('/')[0]!;
    const yBare = y.jid.split('/')[0]!;
    void xNode;
    void yNode;
    await x.send(`<presence type='subscribe' to='${yBare}'/>`);
    await y.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from === xBare);
    await y.send(`<presence type='subscribed' to='${xBare}'/>`);
    await y.send(`<presence type='subscribe' to='${xBare}'/>`);
    await x.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from === yBare);
    await x.send(`<presence type='subscribed' to='${yBare}'/>`);
    await x.waitFor((el) => el.name === 'presence' && el.attrs.from === y.jid && el.attrs.type === undefined);
    await y.waitFor((el) => el.name === 'presence' && el.attrs.from === x.jid && el.attrs.type === undefined);
  }

  it('mirrors sessions, routes messages and presence between clients on different nodes', async () => {
    const alice = await a.client('alice', { resource: 'desk' });
    const bob = await b.client('bob', { resource: 'phone' });
    await knownEverywhere(alice.jid);
    await knownEverywhere(bob.jid);
    const mirror = [...a.running.server.sessions.all()].find((s) => s.jid.toString() === bob.jid);
    assert.ok(mirror instanceof RemoteSession && mirror.node === 'b');
    assert.equal(a.running.server.sessions.localSize, 1);

    await subscribeBoth(alice, a, bob, b);
    // RFC 6121 §8.5.2.1.1: a chat message to the bare JID reaches the available resource, wherever it is.
    await alice.send(`<message to='bob@localhost' type='chat'><body>hello across</body></message>`);
    const got = await bob.waitFor(body('hello across'));
    assert.equal(got.attrs.from, alice.jid);
    await bob.send(`<message to='${alice.jid}' type='chat'><body>hi back</body></message>`);
    await alice.waitFor(body('hi back'));

    // Presence changes are broadcast across nodes, and the mirror follows.
    await bob.send(`<presence><show>away</show><priority>5</priority></presence>`);
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.from === bob.jid && el.getChildText('show') === 'away');
    await until('the mirror has the new priority', () => mirror.priority === 5);

    // An iq to a full JID on the other node, and its result back.
    const version = alice.iq(`<iq type='get' to='${bob.jid}' id='v1'><query xmlns='jabber:iq:version'/></iq>`);
    const iq = await bob.waitFor((el) => el.name === 'iq' && el.attrs.id === 'v1');
    assert.equal(iq.attrs.from, alice.jid);
    await bob.send(`<iq type='result' id='v1' to='${alice.jid}'><query xmlns='jabber:iq:version'><name>t</name></query></iq>`);
    assert.equal((await version).attrs.type, 'result');

    await bob.stop();
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.from === bob.jid && el.attrs.type === 'unavailable');
    await until('the mirror is gone', () => ![...a.running.server.sessions.all()].some((s) => s.jid.toString() === bob.jid));
    await alice.stop();
  });

  it('stores a message for an account offline on every node, and delivers it on login anywhere (XEP-0160)', async () => {
    const carol = await a.client('carol');
    await carol.send(`<message to='dave@localhost' type='chat'><body>while you were out</body></message>`);
    await carol.iq(`<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const dave = await b.client('dave');
    const got = await dave.waitFor(body('while you were out'));
    assert.ok(got.getChild('delay', 'urn:xmpp:delay'));
    await carol.stop();
    await dave.stop();
  });

  it('replaces a session when the same full JID binds on the other node (RFC 6120 §7.7.2.2)', async () => {
    const first = await a.raw();
    await first.login('erin', 'secret', 'same');
    first.write('<presence/>');
    await knownEverywhere('erin@localhost/same');
    const second = await b.raw();
    await second.login('erin', 'secret', 'same');
    await first.waitFor(/<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await first.waitClosed();
    const secondJid = 'erin@localhost/same';
    await until('node a mirrors the new session', () => {
      const s = [...a.running.server.sessions.all()].find((x) => x.jid.toString() === secondJid);
      return s instanceof RemoteSession && s.node === 'b';
    });
    assert.equal(a.running.server.sessions.localSize, 0);
    second.destroy();
  });

  it('sends carbons to resources on the other node (XEP-0280)', async () => {
    const desk = await a.client('frank', { resource: 'desk' });
    const phone = await b.client('frank', { resource: 'phone' });
    for (const c of [desk, phone]) {
      const r = await c.iq(`<iq type='set'><enable xmlns='urn:xmpp:carbons:2'/></iq>`);
      assert.equal(r.attrs.type, 'result');
    }
    await until('node a sees carbons enabled on the phone', () =>
      [...a.running.server.sessions.all()].some((s) => s.jid.toString() === phone.jid && s.state.get('carbons') === true),
    );
    const alice = await a.client('alice');
    await alice.send(`<message to='${phone.jid}' type='chat'><body>to the phone</body></message>`);
    await phone.waitFor(body('to the phone'));
    const copy = await desk.waitFor((el) => el.getChild('received', 'urn:xmpp:carbons:2') !== undefined);
    assert.equal(copy.getChild('received')!.getChild('forwarded')!.getChild('message')!.getChildText('body'), 'to the phone');
    for (const c of [desk, phone, alice]) await c.stop();
  });

  it('keeps a MUC room on one node; occupants on both nodes chat in it (XEP-0045)', async () => {
    const alice = await a.client('alice', { resource: 'muc' });
    const bob = await b.client('bob', { resource: 'muc' });
    const room = 'lobby@conference.localhost';
    const owner = node(a).ownerOfKey(room);
    assert.ok(owner === 'a' || owner === 'b');
    await alice.send(`<presence to='${room}/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.from === `${room}/Alice` && el.getChild('x', 'http://jabber.org/protocol/muc#user') !== undefined);
    // A new room is locked until configured (XEP-0045 §10.1.2): accept the default configuration.
    const cfg = await alice.iq(`<iq type='set' to='${room}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
    assert.equal(cfg.attrs.type, 'result', cfg.toString());
    await bob.send(`<presence to='${room}/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.from === `${room}/Bob`);
    await bob.waitFor((el) => el.name === 'presence' && el.attrs.from === `${room}/Bob`);
    await bob.send(`<message to='${room}' type='groupchat'><body>one room, two nodes</body></message>`);
    for (const c of [alice, bob]) {
      const m = await c.waitFor(body('one room, two nodes'));
      assert.equal(m.attrs.from, `${room}/Bob`);
    }
    const state = (ts: TestServer) => ts.running.server;
    void state;
    // Leaving by closing the stream: the unavailable presence reaches the room on its node (RFC 6121 §4.6.3).
    await bob.stop();
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.from === `${room}/Bob` && el.attrs.type === 'unavailable');
    await alice.stop();
  });

  it("re-reads a roster another node changed (cache invalidation)", async () => {
    const alice = await a.client('alice', { resource: 'r1' });
    const alice2 = await b.client('alice', { resource: 'r2' });
    // Node b caches alice's roster as alice2 reads it; it becomes an interested resource (RFC 6121 §2.1.6).
    await alice2.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
    await until('node a sees alice2 as interested', () =>
      [...a.running.server.sessions.all()].some((s) => s.jid.toString() === alice2.jid && s.interested),
    );
    const push = alice2.waitFor((el) => el.name === 'iq' && el.attrs.type === 'set' && el.getChild('query', 'jabber:iq:roster')?.getChild('item')?.attrs.jid === 'zed@example.org');
    const r = await alice.iq(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='zed@example.org' name='Zed'/></query></iq>`);
    assert.equal(r.attrs.type, 'result');
    await push;
    const roster = await alice2.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
    const items = roster.getChild('query')!.getChildren('item').map((i) => i.attrs.jid);
    assert.ok(items.includes('zed@example.org'), items.join(' '));
    await alice.stop();
    await alice2.stop();
  });

  it('forgets the sessions of a node that leaves', async () => {
    const extra = await startTestServer({ ...nodeConfig('c'), cluster: { ...nodeConfig('c').cluster, nodes: ['a', 'b', 'c'] } } as never);
    const carol = await extra.client('carol', { resource: 'gone' });
    await knownEverywhere(carol.jid);
    await extra.stop();
    await until('node a dropped its session', () => ![...a.running.server.sessions.all()].some((s) => s.jid.toString() === carol.jid));
    await until('node a no longer counts it', () => !node(a).liveNodes().includes('c'));
  });
});
