// What an operator (and a load balancer) sees of a cluster: GET /health on each node's HTTP port, 200 only while
// its database and Redis answer, and `parley cluster status` through the control socket. Redis and PostgreSQL
// are reached through TCP relays in this test, so that cutting a relay is a real outage for one node only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { isRedisUp, startTestServer, type TestServer } from '../testing/harness';
import { TEST_POSTGRES_URL, TestSchemas, postgresSkipReason } from '../testing/postgres';
import { rendezvous } from './types';
import { until as untilHolds } from '../testing/until';

const REDIS_URL = process.env.PARLEY_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const BIN = fileURLToPath(new URL('../../../cli/bin/parley.js', import.meta.url));

const until = (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000) => untilHolds(what, cond, timeoutMs);

/** A TCP relay to host:port that can be cut (every connection dropped, new ones refused) and restored. */
class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly host: string,
    private readonly target: number,
  ) {}

  async open(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.target, this.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

const health = async (ts: TestServer) => {
  const res = await fetch(`http://127.0.0.1:${ts.httpPort}/health`);
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Record<string, unknown> };
};

const skip = !(await isRedisUp()) ? 'Redis is not running on 127.0.0.1:6379' : await postgresSkipReason();

describe('cluster: /health and `parley cluster status`', { skip: skip ?? false }, () => {
  const schemas = new TestSchemas();
  const name = `test-${randomBytes(4).toString('hex')}`;
  const redisRelay = new Relay('127.0.0.1', Number(new URL(REDIS_URL).port || 6379));
  const pgRelay = new Relay(new URL(TEST_POSTGRES_URL).hostname, Number(new URL(TEST_POSTGRES_URL).port || 5432));
  let x: TestServer;
  let y: TestServer;

  before(async () => {
    await redisRelay.open();
    await pgRelay.open();
    const url = await schemas.url();
    const relayed = new URL(url);
    relayed.port = String(pgRelay.port);
    const redisRelayed = new URL(REDIS_URL);
    redisRelayed.port = String(redisRelay.port);
    const cluster = { backend: 'redis', name, nodes: ['x', 'y'] };
    x = await startTestServer({ storage: { backend: 'postgres', url: relayed.toString() }, cluster: { ...cluster, node_id: 'x', redis_url: redisRelayed.toString() } } as never);
    y = await startTestServer({ storage: { backend: 'postgres', url }, cluster: { ...cluster, node_id: 'y', redis_url: REDIS_URL } } as never);
    await x.createUser('alice');
  });
  after(async () => {
    await y?.stop();
    await redisRelay.open().catch(() => {});
    await pgRelay.open().catch(() => {});
    await x?.stop();
    await redisRelay.cut();
    await pgRelay.cut();
    await schemas.dropAll();
  });

  it('answers 200 while storage and Redis answer, 503 while either does not, 200 again when they are back', async () => {
    assert.deepEqual(await health(x), { status: 200, type: 'application/json', body: { healthy: true, node: 'x', storage: 'ok', bus: 'ok' } });

    await redisRelay.cut();
    await until('x reports Redis unreachable', async () => (await health(x)).status === 503);
    assert.deepEqual((await health(x)).body, { healthy: false, node: 'x', storage: 'ok', bus: 'unreachable' });
    assert.equal((await health(y)).status, 200, 'the other node is fine');
    await redisRelay.open();
    await until('x is healthy again', async () => (await health(x)).status === 200, 20_000);

    await pgRelay.cut();
    await until('x reports the database unreachable', async () => (await health(x)).status === 503);
    assert.deepEqual((await health(x)).body, { healthy: false, node: 'x', storage: 'unreachable', bus: 'ok' });
    await pgRelay.open();
    await until('x is healthy again', async () => (await health(x)).status === 200);
  });

  it('`parley cluster status` lists the nodes with their sessions and rooms, and Redis and the database', async () => {
    const alice = await x.client('alice', { resource: 'desk' });
    // A room served by x.
    let n = 0;
    while (rendezvous(['x', 'y'], `room${n}@conference.localhost`) !== 'x') n++;
    const room = `room${n}@conference.localhost`;
    await alice.send(`<presence to='${room}/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.from === `${room}/Alice`);

    const run = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'cluster', 'status', '--data-dir', y.config.data_dir, '--domain', 'localhost'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('exit', (code) => resolve({ code, out }));
      });
    const { code, out } = await run();
    assert.equal(code, 0, out);
    assert.match(out, /^redis\s+ok$/m);
    assert.match(out, /^database\s+ok$/m);
    assert.match(out, /^node x\s+live, 1 sessions, 1 rooms, database ok$/m);
    assert.match(out, /^node y\s+live \(this node\), 0 sessions, 0 rooms, database ok$/m);
    await alice.stop();
  });
});
