// Any node serves any session (XEP-0198 §5 across nodes) and a node's death loses nothing: nodes in this process
// (a, b) and one in a child process (k) killed with SIGKILL, over the real Redis and one PostgreSQL schema.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { isListening, randomPort } from '../testing/process';
import type { XmlElement } from '@parley/protocol';
import { isRedisUp, startTestServer, type TestServer } from '../testing/harness';
import { TestSchemas, postgresSkipReason } from '../testing/postgres';
import { SM, authenticate, enabled } from '../modules/xep-0198-sm/test-support';
import { RemoteSession } from './remote-session';
import type { ClusterNode } from './node';
import { rendezvous } from './types';
import { until } from '../testing/until';

const REDIS_URL = process.env.PARLEY_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const BIN = fileURLToPath(new URL('../../../cli/bin/parley.js', import.meta.url));


const body = (text: string) => (el: XmlElement) => el.name === 'message' && el.getChildText('body') === text;
const skip = !(await isRedisUp()) ? 'Redis is not running on 127.0.0.1:6379' : await postgresSkipReason();

describe('cluster: resumption on any node, and a node killed', { skip: skip ?? false }, () => {
  const schemas = new TestSchemas();
  const dir = mkdtempSync(join(tmpdir(), 'parley-failover-'));
  const name = `test-${randomBytes(4).toString('hex')}`;
  const members = ['a', 'b', 'k'];
  let url: string;
  let a: TestServer;
  let b: TestServer;
  const children: ChildProcess[] = [];
  const node = (ts: TestServer) => ts.running.server.cluster as ClusterNode;
  const sessionOf = (ts: TestServer, full: string) => [...ts.running.server.sessions.all()].find((s) => s.jid.toString() === full);

  const nodeConfig = (id: string) => ({
    storage: { backend: 'postgres', url },
    cluster: { backend: 'redis', redis_url: REDIS_URL, name, node_id: id, nodes: members },
  });

  before(async () => {
    url = await schemas.url();
    a = await startTestServer(nodeConfig('a') as never);
    b = await startTestServer(nodeConfig('b') as never);
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await a.createUser(u);
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await b?.stop();
    await a?.stop();
    await schemas.dropAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumes on another live node a session hibernating on one (hand-over over the bus)', async () => {
    const { r: first, id } = await enabled(a, 'alice', 'phone');
    first.write(`<presence/>`);
    const bob = await b.client('bob', { resource: 'desk' });
    await until('b mirrors alice', () => sessionOf(b, 'alice@localhost/phone')?.available === true);
    // alice and bob share a room (with carbons on for alice): the session keeps both across the hand-over.
    const room = 'handover@conference.localhost';
    first.write(`<iq type='set' id='carbons'><enable xmlns='urn:xmpp:carbons:2'/></iq>`);
    first.write(`<presence to='${room}/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await first.waitFor(/status code='110'/);
    first.write(`<iq type='set' id='cfg' to='${room}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
    await first.waitFor(/id='cfg'/);
    await bob.send(`<presence to='${room}/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await bob.waitFor((el) => el.name === 'presence' && el.attrs.from === `${room}/Bob`);
    await bob.send(`<message to='alice@localhost/phone' type='chat' id='m1'><body>first</body></message>`);
    await first.waitFor('first');
    first.destroy(); // the connection drops without </stream:stream>: the session hibernates on a
    await until('a keeps it', () => sessionOf(a, 'alice@localhost/phone') !== undefined);
    await bob.send(`<message to='alice@localhost/phone' type='chat' id='m2'><body>second</body></message>`);

    const second = await b.raw();
    await authenticate(second, 'alice');
    second.write(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    const got = await second.waitFor(/second/);
    assert.match(got, new RegExp(`<resumed xmlns='${SM}' previd='${id}' h='\\d+'/>`));
    // §5: what was never acknowledged comes again, in order, on the new node.
    assert.ok(got.indexOf('first') < got.indexOf('second'), got);
    await until('node a mirrors the session on b', () => {
      const s = sessionOf(a, 'alice@localhost/phone');
      return s instanceof RemoteSession && s.node === 'b';
    });
    const local = sessionOf(b, 'alice@localhost/phone');
    assert.ok(local !== undefined && !(local instanceof RemoteSession));
    assert.equal(local.available, true, 'the presence state came along');
    // The session works on b: both ways.
    second.data = '';
    second.write(`<message to='bob@localhost/desk' type='chat'><body>back</body></message>`);
    await bob.waitFor(body('back'));
    await bob.send(`<message to='alice@localhost/phone' type='chat'><body>third</body></message>`);
    await second.waitFor('third');
    // Still in the room (no unavailable went to it), and carbons still on.
    assert.equal(local.state.get('carbons'), true);
    await bob.send(`<message to='${room}' type='groupchat'><body>to the room</body></message>`);
    await second.waitFor('to the room');
    // The SM-ID still names the session: it resumes once more, back on a, while b still has its connection
    // (§5: the old connection is closed; the client may not have noticed it is dead).
    const third = await a.raw();
    await authenticate(third, 'alice');
    third.write(`<resume xmlns='${SM}' previd='${id}' h='3'/>`);
    await third.waitFor(`<resumed xmlns='${SM}' previd='${id}'`);
    await third.waitFor('third');
    await second.waitFor(/<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await second.waitClosed();
    // Leaving for good: the room learns it from the node that has the session now (the directed presence came along).
    third.write(`</stream:stream>`);
    await bob.waitFor((el) => el.name === 'presence' && el.attrs.from === `${room}/Alice` && el.attrs.type === 'unavailable');
    await bob.stop();
  });

  it('cleans up after a node killed with SIGKILL: directory within seconds, offline storage, resumption elsewhere', async () => {
    const port = randomPort();
    const config = join(dir, 'k.yml');
    writeFileSync(
      config,
      [
        'domain: localhost',
        `data_dir: ${join(dir, 'k-data')}`,
        'log:',
        '  level: warn',
        'c2s:',
        `  port: ${port}`,
        '  tls_port: 0',
        '  bind: 127.0.0.1',
        '  allow_plaintext_auth: true',
        'http:',
        '  port: 0',
        '  tls_port: 0',
        'components:',
        '  port: 0',
        's2s:',
        '  port: 0',
        'auth:',
        '  scram_iterations: 4096',
        'storage:',
        '  backend: postgres',
        `  url: ${JSON.stringify(url)}`,
        'cluster:',
        '  backend: redis',
        `  redis_url: ${REDIS_URL}`,
        `  name: ${name}`,
        '  node_id: k',
        `  nodes: [${members.join(', ')}]`,
        '',
      ].join('\n'),
    );
    const child = spawn(process.execPath, [BIN, 'start', '--config', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    await until(`node k listens (${output})`, () => isListening(port), 60_000);
    await until('a and b see k', () => node(a).isLive('k') && node(b).isLive('k'), 10_000);

    const k = { port } as TestServer;
    k.raw = async () => (await import('../testing/harness')).RawClient.connect(port);
    // carol waits one second to be resumed; dave the default five minutes.
    const carol = await enabled(k, 'carol', 'phone', `resume='true' max='1'`);
    const dave = await enabled(k, 'dave', 'phone');
    const bob = await b.client('bob', { resource: 'desk' });
    await until('b mirrors carol and dave', () => sessionOf(b, 'carol@localhost/phone') !== undefined && sessionOf(b, 'dave@localhost/phone') !== undefined);
    await bob.send(`<message to='carol@localhost/phone' type='chat'><body>for carol</body></message>`);
    await bob.send(`<message to='dave@localhost/phone' type='chat'><body>for dave 1</body></message>`);
    await carol.r.waitFor('for carol');
    await dave.r.waitFor('for dave 1');
    dave.r.destroy();
    await bob.send(`<message to='dave@localhost/phone' type='chat'><body>for dave 2</body></message>`);
    // What k keeps for dave is in the database once it is sent to him (within a tick).
    const storage = a.running.server.storage;
    await until('k stored the stanza dave missed', async () => {
      const stored = await storage.map<{ unacked: { x: string }[] }>('sm_sessions').get('k', dave.id);
      return stored?.unacked.some((u) => u.x.includes('for dave 2')) ?? false;
    });

    // A persistent room served by k, with its owner, a member and some history.
    let n = 0;
    while (rendezvous(members, `den${n}@conference.localhost`) !== 'k') n++;
    const room = `den${n}@conference.localhost`;
    const erin = await a.client('erin', { resource: 'muc' });
    await erin.send(`<presence to='${room}/Erin'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await erin.waitFor((el) => el.name === 'presence' && el.attrs.from === `${room}/Erin`);
    const form = `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_persistentroom'><value>1</value></field><field var='muc#roomconfig_roomname'><value>The Den</value></field></x>`;
    const cfg = await erin.iq(`<iq type='set' to='${room}'><query xmlns='http://jabber.org/protocol/muc#owner'>${form}</query></iq>`);
    assert.equal(cfg.attrs.type, 'result', cfg.toString());
    const member = await erin.iq(`<iq type='set' to='${room}'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='member' jid='bob@localhost'/></query></iq>`);
    assert.equal(member.attrs.type, 'result', member.toString());
    await erin.send(`<message to='${room}' type='groupchat'><body>before the crash</body></message>`);
    await erin.waitFor(body('before the crash'));
    await until('the history is in the database', async () => (await storage.keyval('muc_room_history').get(room)) !== undefined);

    const killedAt = Date.now();
    child.kill('SIGKILL');
    carol.r.destroy();
    await until('a and b dropped k and its sessions', () =>
      [a, b].every((ts) => !node(ts).isLive('k') && sessionOf(ts, 'carol@localhost/phone') === undefined && sessionOf(ts, 'dave@localhost/phone') === undefined),
    10_000);
    assert.ok(Date.now() - killedAt < 10_000);

    // carol never acknowledged her message and did not come back in time: it waits in offline storage.
    await until('carol’s message is in offline storage', async () => (await storage.archive('offline').count('carol@localhost')) === 1, 10_000);
    const laptop = await a.client('carol', { resource: 'laptop' });
    const offline = await laptop.waitFor(body('for carol'));
    assert.ok(offline.getChild('delay', 'urn:xmpp:delay'));
    await laptop.stop();

    // dave comes back on b: he had 'for dave 1' (h=1), and gets what he missed.
    const back = await b.raw();
    await authenticate(back, 'dave');
    back.write(`<resume xmlns='${SM}' previd='${dave.id}' h='1'/>`);
    const got = await back.waitFor('for dave 2');
    assert.match(got, new RegExp(`<resumed xmlns='${SM}' previd='${dave.id}' h='0'/>`));
    assert.doesNotMatch(got, /for dave 1/);
    await until('a mirrors dave on b', () => {
      const s = sessionOf(a, 'dave@localhost/phone');
      return s instanceof RemoteSession && s.node === 'b';
    });
    back.write(`</stream:stream>`);

    // The room moved to a live node, which read it from the database: erin rejoins and finds it as it was.
    const rejoined = erin.waitFor((el) => el.name === 'presence' && el.attrs.from === `${room}/Erin` && el.getChild('x', 'http://jabber.org/protocol/muc#user')?.getChild('status')?.attrs.code === '110');
    await erin.send(`<presence to='${room}/Erin'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    const self = await rejoined;
    assert.equal(self.getChild('x', 'http://jabber.org/protocol/muc#user')!.getChild('item')!.attrs.affiliation, 'owner');
    const history = await erin.waitFor((el) => body('before the crash')(el) && el.getChild('delay', 'urn:xmpp:delay') !== undefined);
    assert.equal(history.attrs.from, `${room}/Erin`);
    const info = await erin.iq(`<iq type='get' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.equal(info.getChild('query')!.getChild('identity')!.attrs.name, 'The Den');
    assert.ok(info.getChild('query')!.getChildren('feature').some((f) => f.attrs.var === 'muc_persistent'));
    const memberList = await erin.iq(`<iq type='get' to='${room}'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='member'/></query></iq>`);
    assert.deepEqual(memberList.getChild('query')!.getChildren('item').map((i) => i.attrs.jid), ['bob@localhost']);
    await erin.stop();
    await bob.stop();
  });
});
