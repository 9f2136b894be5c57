// Two nodes of one domain sharing a PostgreSQL database (and Redis): read-modify-writes of one roster from
// both at once must lose nothing. Each node's in-process queue serialises only its own writes; what keeps
// them atomic together is the database transaction holding the roster's row lock (Storage.exclusive).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isRedisUp, startTestServer, type RawClient, type TestServer } from '../../testing/harness';
import { TestSchemas, postgresSkipReason } from '../../testing/postgres';
import type { ClusterNode } from '../../cluster/node';
import { until } from '../../testing/until';

const REDIS_URL = process.env.PARLEY_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const skip = (await postgresSkipReason()) ?? (!(await isRedisUp()) ? 'Redis is not running on 127.0.0.1:6379' : undefined);


describe('roster: two nodes sharing PostgreSQL', { skip }, () => {
  const schemas = new TestSchemas();
  let a: TestServer;
  let b: TestServer;
  const name = `test-${randomBytes(4).toString('hex')}`;

  before(async () => {
    const url = await schemas.url();
    const nodeConfig = (id: string) => ({
      storage: { backend: 'postgres', url },
      cluster: { backend: 'redis', redis_url: REDIS_URL, name, node_id: id, nodes: ['a', 'b'] },
    });
    a = await startTestServer(nodeConfig('a') as never);
    b = await startTestServer(nodeConfig('b') as never);
    const node = (ts: TestServer) => ts.running.server.cluster as ClusterNode;
    await until('the nodes see each other', () => node(a).liveNodes().length === 2 && node(b).liveNodes().length === 2);
    await a.createUser('alice');
    for (let i = 0; i < 20; i++) await a.createUser(`p${i}`);
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await schemas.dropAll();
  });

  const login = async (ts: TestServer, user: string, resource: string): Promise<RawClient> => {
    const r = await ts.raw();
    await r.login(user, 'secret', resource);
    return r;
  };

  it('roster sets from both nodes at once: every item stored, every change a version of its own', async () => {
    const onA = await login(a, 'alice', 'a');
    const onB = await login(b, 'alice', 'b');
    const n = 20;
    const set = (r: RawClient, prefix: string) => {
      for (let i = 0; i < n; i++) {
        r.write(`<iq type='set' id='${prefix}${i}'><query xmlns='jabber:iq:roster'><item jid='${prefix}${i}@example.net' name='${prefix} ${i}'/></query></iq>`);
      }
    };
    set(onA, 'x');
    set(onB, 'y');
    await Promise.all([onA.waitFor(`id='x${n - 1}'`, 15_000), onB.waitFor(`id='y${n - 1}'`, 15_000)]);

    const storage = a.running.server.storage;
    const items = await storage.map('roster').getAll('alice@localhost');
    assert.equal(items.size, 2 * n, 'every item of both nodes is stored');
    // RFC 6121 §2.6 / XEP-0237: each change a new version; two nodes handing out the same one would let a
    // client caching one roster never learn about the other change.
    assert.equal(await storage.keyval('roster_version').get('alice@localhost'), 2 * n);
  });

  it('crossing subscribe/subscribed between users on different nodes all end in subscription both', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => login(i % 2 === 0 ? a : b, `p${i}`, 'r')));
    const pairs = Array.from({ length: 10 }, (_, k) => [2 * k, 2 * k + 1] as const);
    for (const [x, y] of pairs) {
      clients[x]!.write(`<presence to='p${y}@localhost' type='subscribe'/><presence to='p${y}@localhost' type='subscribed'/>`);
      clients[y]!.write(`<presence to='p${x}@localhost' type='subscribe'/><presence to='p${x}@localhost' type='subscribed'/>`);
    }
    const roster = a.running.server.storage.map<{ subscription: string }>('roster');
    const settled = async () => {
      for (const [x, y] of pairs) {
        if ((await roster.get(`p${x}@localhost`, `p${y}@localhost`))?.subscription !== 'both') return false;
        if ((await roster.get(`p${y}@localhost`, `p${x}@localhost`))?.subscription !== 'both') return false;
      }
      return true;
    };
    const end = Date.now() + 5000;
    while (!(await settled()) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    for (const [x, y] of pairs) {
      assert.equal((await roster.get(`p${x}@localhost`, `p${y}@localhost`))?.subscription, 'both', `p${x} → p${y}`);
      assert.equal((await roster.get(`p${y}@localhost`, `p${x}@localhost`))?.subscription, 'both', `p${y} → p${x}`);
    }
  });
});
