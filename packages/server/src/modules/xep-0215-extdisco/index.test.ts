// XEP-0215 external service discovery: the announced STUN/TURN services, TURN REST API credentials (checked
// against a known vector), and — when Debian's coturn is installed — a TURN allocation on a coturn started
// here on loopback with the credentials a user was issued.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../testing/harness';
import { turnCredentials } from './credentials';

const EXTDISCO = 'urn:xmpp:extdisco:2';
const SECRET = 's3cret-shared-with-coturn';
const hasCoturn = spawnSync('sh', ['-c', 'command -v turnserver && command -v turnutils_uclient']).status === 0;

/** A UDP port free on loopback right now. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

describe('XEP-0215 external service discovery', () => {
  let ts: TestServer;
  let turnPort: number;
  before(async () => {
    turnPort = await freeUdpPort();
    ts = await startTestServer({
      modules: {
        options: {
          extdisco: {
            services: [
              { type: 'stun', host: '127.0.0.1', port: turnPort, transport: 'udp' },
              { type: 'turn', host: '127.0.0.1', port: turnPort, transport: 'udp', secret: SECRET, ttl: 600 },
            ],
          },
        },
      },
    });
    await ts.createUser('alice');
  });
  after(() => ts.stop());

  it('computes TURN REST API credentials: expiry:user and base64 HMAC-SHA1 under the shared secret', () => {
    // Vector from `printf %s "$user" | openssl dgst -binary -sha1 -hmac s3cret | base64`.
    const c = turnCredentials('s3cret', 'alice@localhost', 3600, (1796674759 - 3600) * 1000);
    assert.deepEqual(c, { username: '1796674759:alice@localhost', password: 'ixqkJ4BV4hIMcgTyX9OPbzNqHho=', expires: 1796674759 });
  });

  it('lists the services, with time-limited credentials for TURN only, and credentials on request', async () => {
    const alice = await ts.client('alice');
    const before = Math.floor(Date.now() / 1000);
    const r = await alice.iq(`<iq type='get' to='localhost'><services xmlns='${EXTDISCO}'/></iq>`);
    assert.equal(r.attrs.type, 'result', r.toString());
    const [stun, turn] = r.getChild('services', EXTDISCO)!.getChildren('service');
    assert.deepEqual(stun!.attrs, { type: 'stun', host: '127.0.0.1', port: String(turnPort), transport: 'udp' });
    assert.equal(turn!.attrs.restricted, '1');
    const [expiry, user] = turn!.attrs.username!.split(':');
    assert.equal(user, 'alice@localhost');
    assert.ok(Number(expiry) >= before + 600 && Number(expiry) <= before + 602, turn!.toString());
    assert.equal(turn!.attrs.expires, new Date(Number(expiry) * 1000).toISOString());
    assert.equal(turn!.attrs.password, turnCredentials(SECRET, 'alice@localhost', 600, (Number(expiry) - 600) * 1000).password);
    // §3.1: filtered by type.
    const onlyTurn = await alice.iq(`<iq type='get' to='localhost'><services xmlns='${EXTDISCO}' type='turn'/></iq>`);
    assert.deepEqual(onlyTurn.getChild('services', EXTDISCO)!.getChildren('service').map((s) => s.attrs.type), ['turn']);
    // §3.2: credentials for one service; an unknown one is item-not-found.
    const cred = await alice.iq(`<iq type='get' to='localhost'><credentials xmlns='${EXTDISCO}'><service type='turn' host='127.0.0.1'/></credentials></iq>`);
    assert.equal(cred.getChild('credentials', EXTDISCO)?.getChild('service')?.attrs.restricted, '1');
    const unknown = await alice.iq(`<iq type='get' to='localhost'><credentials xmlns='${EXTDISCO}'><service type='turn' host='turn.example'/></credentials></iq>`);
    assert.equal(unknown.getChild('error')?.elements()[0]?.name, 'item-not-found');
    await alice.stop();
  });

  it('issues credentials coturn accepts for an allocation (and a tampered password is refused)', { skip: !hasCoturn && 'coturn not installed: apt-get install -y coturn' }, async () => {
    const alice = await ts.client('alice');
    const r = await alice.iq(`<iq type='get' to='localhost'><services xmlns='${EXTDISCO}' type='turn'/></iq>`);
    const turn = r.getChild('services', EXTDISCO)!.getChild('service')!;
    await alice.stop();
    const dir = mkdtempSync(join(tmpdir(), 'parley-coturn-'));
    const relayBase = 40000 + Math.floor(Math.random() * 200) * 100;
    let server: ChildProcess | undefined;
    try {
      server = spawn(
        'turnserver',
        [
          '-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${turnPort}`,
          `--min-port=${relayBase}`, `--max-port=${relayBase + 99}`, '--use-auth-secret', `--static-auth-secret=${SECRET}`,
          '--realm=localhost', '--no-tls', '--no-dtls', '--no-cli', '--allow-loopback-peers', '--log-file=stdout', '--simple-log',
          `--pidfile=${join(dir, 'pid')}`, `--userdb=${join(dir, 'turn.db')}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let log = '';
      server.stdout!.on('data', (d) => (log += d));
      const deadline = Date.now() + 10_000;
      while (!log.includes('Total General servers')) {
        if (Date.now() > deadline) throw new Error(`coturn did not start:\n${log}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      const allocate = (password: string) =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          // -y: two clients relay to each other through their allocations; -n 2 messages, -m 1 client pair.
          const c = spawn('turnutils_uclient', ['-y', '-n', '2', '-m', '1', '-c', '-u', turn.attrs.username!, '-w', password, '-p', String(turnPort), '127.0.0.1']);
          let out = '';
          c.stdout.on('data', (d) => (out += d));
          c.stderr.on('data', (d) => (out += d));
          const timer = setTimeout(() => c.kill(), 30_000);
          c.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code, out });
          });
        });
      const ok = await allocate(turn.attrs.password!);
      assert.equal(ok.code, 0, ok.out);
      assert.match(ok.out, /Total lost packets 0/);
      const good = turn.attrs.password!;
      const bad = await allocate(`${good[0] === 'A' ? 'B' : 'A'}${good.slice(1)}`);
      assert.notEqual(bad.code, 0, bad.out);
      assert.match(bad.out, /Cannot complete Allocation/);
    } finally {
      if (server?.pid !== undefined) server.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
