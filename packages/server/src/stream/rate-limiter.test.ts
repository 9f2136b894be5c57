// Per-address limits: the key an address counts under (an IPv6 /64 is one address), and end to end, from several
// IPv6 source addresses, the connection, failed-login and registration limits of a running server.
// The end-to-end part needs addresses of its own: it re-runs this file inside a fresh network namespace
// (`unshare --net`, root only), where it can put 2001:db8:5::/64 and 2001:db8:6::/64 on the loopback interface
// without touching the host's network. Where that is impossible the suite says so and is skipped (tagged, not silent).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseXml } from '@parley/protocol';
import { AddressPolicy, IpRateLimiter, addressKey } from './rate-limiter';
import { RawClient, startTestServer, type TestServer } from '../testing/harness';

const IN_NAMESPACE = process.env.PARLEY_TEST_NETNS === '1';

describe('addressKey', () => {
  it('keeps IPv4 addresses and keys IPv6 addresses by their /64', () => {
    assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('2001:db8:5:0:1:2:3:4'), '2001:db8:5:0:0:0:0:0/64');
    assert.equal(addressKey('2001:db8:5::ffff'), '2001:db8:5:0:0:0:0:0/64');
    assert.equal(addressKey('2001:DB8:5:0:abcd::1%eth0'), '2001:db8:5:0:0:0:0:0/64');
    assert.notEqual(addressKey('2001:db8:5:1::1'), addressKey('2001:db8:5::1'));
    assert.equal(addressKey('::1'), '0:0:0:0:0:0:0:0/64');
  });

  it('honours other prefix lengths, including ones inside a group and a trailing IPv4 part', () => {
    assert.equal(addressKey('2001:db8:5:ff::1', 56), '2001:db8:5:0:0:0:0:0/56');
    assert.equal(addressKey('2001:db8:5:1ff::1', 56), '2001:db8:5:100:0:0:0:0/56');
    assert.equal(addressKey('64:ff9b::192.0.2.1', 128), '64:ff9b:0:0:0:0:c000:201/128');
    assert.equal(addressKey('2001:db8::1', 128), '2001:db8:0:0:0:0:0:1/128');
  });

  it('counts addresses of one /64 together in a limiter, other prefixes and exempt networks apart', () => {
    const limiter = new IpRateLimiter(2, 60_000, new AddressPolicy({ exemptNetworks: ['2001:db8:9::/48'] }));
    assert.equal(limiter.hit('2001:db8:5::1'), true);
    assert.equal(limiter.hit('2001:db8:5::2'), true);
    assert.equal(limiter.isLimited('2001:db8:5::3'), true);
    assert.equal(limiter.hit('2001:db8:5:0:ffff::9'), false);
    assert.equal(limiter.hit('2001:db8:6::1'), true);
    for (let i = 1; i < 5; i++) assert.equal(limiter.hit(`2001:db8:9::${i}`), true);
  });
});

const STREAMS = "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'";
const ADDRESSES = ['2001:db8:5::1', '2001:db8:5::2', '2001:db8:5::3', '2001:db8:5:0:ffff::4', '2001:db8:6::1', '2001:db8:6::2'];

describe('per-address limits count an IPv6 /64 as one address (end to end)', { skip: !IN_NAMESPACE && namespaceUnavailable() }, () => {
  if (!IN_NAMESPACE) {
    it('pass inside a network namespace of their own', () => {
      const setup = [
        'set -e',
        'ip link set lo up',
        ...ADDRESSES.map((a) => `ip -6 addr add ${a}/64 dev lo nodad`),
        `exec "${process.execPath}" --import tsx --test --test-reporter=tap "${fileURLToPath(import.meta.url)}"`,
      ].join('\n');
      const run = spawnSync('unshare', ['--net', 'sh', '-c', setup], {
        // Without the runner's NODE_TEST_CONTEXT the child reports TAP on its own stdout instead of to us.
        env: { ...process.env, NODE_TEST_CONTEXT: undefined, PARLEY_TEST_NETNS: '1' },
        encoding: 'utf8',
        timeout: 110_000,
      });
      assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /# pass [1-9]/);
      assert.match(run.stdout, /# fail 0/);
    });
    return;
  }

  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      c2s: { bind: '::', max_connections_per_ip: 2, auth_attempts_per_minute: 1 },
      registration: { mode: 'open', per_ip_per_hour: 1 },
      rate_limit: { exempt_networks: [] },
    });
  });
  after(() => ts.stop());

  const connect = (from: string) => RawClient.connect(ts.port, { host: '2001:db8:5::1', from });

  async function isServed(from: string): Promise<{ r: RawClient; served: boolean }> {
    const r = await connect(from);
    r.write(`<?xml version='1.0'?><stream:stream ${STREAMS} to='localhost' version='1.0'>`);
    const served = await r.waitFor('</stream:features>', 2000).then(
      () => true,
      () => false,
    );
    return { r, served };
  }

  it('c2s.max_connections_per_ip: a third connection from the same /64 is refused, another /64 is served', async () => {
    const first = await isServed('2001:db8:5::1');
    const second = await isServed('2001:db8:5::2');
    assert.ok(first.served && second.served);
    const third = await isServed('2001:db8:5:0:ffff::4');
    assert.equal(third.served, false);
    assert.equal(third.r.closed, true);
    const other = await isServed('2001:db8:6::1');
    assert.equal(other.served, true);
    for (const c of [first, second, third, other]) c.r.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the server see the closes
  });

  it('registration.per_ip_per_hour: a second registration from the same /64 is refused (XEP-0077 §3.1.1)', async () => {
    const register = async (from: string, id: string, username: string) => {
      const { r } = await isServed(from);
      r.write(`<iq type='set' id='${id}'><query xmlns='jabber:iq:register'><username>${username}</username><password>pw</password></query></iq>`);
      const pattern = new RegExp(`<iq[^>]*id='${id}'(?:[^>]*/>|[\\s\\S]*?</iq>)`);
      const reply = parseXml((await r.waitFor(pattern)).match(pattern)![0]);
      r.destroy();
      return reply;
    };
    assert.equal((await register('2001:db8:5::1', 'a', 'first')).attrs.type, 'result');
    const refused = await register('2001:db8:5::3', 'b', 'second');
    assert.equal(refused.attrs.type, 'error');
    assert.equal(refused.getChild('error')?.attrs.type, 'wait');
    assert.equal(await ts.running.server.accounts.exists('second'), false);
    assert.equal((await register('2001:db8:6::2', 'c', 'third')).attrs.type, 'result');
  });

  it('c2s.auth_attempts_per_minute: a failed login from one address limits its whole /64 (RFC 6120 §13.10)', async () => {
    const attempt = async (from: string) => {
      const { r } = await isServed(from);
      r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0first\0wrong').toString('base64')}</auth>`);
      const data = await r.waitFor('</failure>');
      r.destroy();
      return data;
    };
    assert.match(await attempt('2001:db8:5::2'), /<not-authorized/);
    assert.match(await attempt('2001:db8:5:0:ffff::4'), /<temporary-auth-failure/);
    assert.match(await attempt('2001:db8:6::1'), /<not-authorized/);
  });
});

/** Whether this process can make a network namespace with addresses of its own (root and util-linux's unshare). */
function namespaceUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'needs root for a network namespace (unshare --net)';
  const probe = spawnSync('unshare', ['--net', 'sh', '-c', 'ip link set lo up && ip -6 addr add 2001:db8:5::1/64 dev lo nodad'], { encoding: 'utf8' });
  return probe.status === 0 ? false : `cannot create a network namespace: ${probe.stderr || probe.error?.message}`;
}
