// Federation with a real Prosody (Debian's 0.12): Prosody serves p.test inside a network namespace of its own, with
// a veth pair to this host and a per-namespace hosts file (/etc/netns/<ns>/hosts, which Prosody's resolver reads)
// naming a.test; Parley serves a.test on the host side of the veth and reaches p.test through s2s.static_routes.
// Self-signed certificates on both sides, so the servers authenticate each other by dialback (XEP-0220) over
// STARTTLS. Everything (namespace, veth, hosts file, Prosody's configuration and data) is created here and removed
// at the end, also on failure; Prosody is stopped by PID. Needs root, `ip` (iproute2), prosody and openssl: skips,
// saying which is missing, otherwise.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient, startTestServer, type TestClient, type TestServer } from '../../packages/server/src/testing/harness';

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = [...['ip', 'prosody', 'prosodyctl', 'openssl'].filter((c) => !has(c)), ...(process.getuid?.() === 0 ? [] : ['root (for ip netns)'])];

const TAG = String(process.pid % 10000);
const NS = `parley-s2s-${TAG}`;
const NET = `10.${77 + (process.pid % 100)}.${Math.floor(process.pid / 100) % 250}`;
const HOST_IP = `${NET}.1`;
const PEER_IP = `${NET}.2`;

function sh(args: string[]): void {
  execFileSync(args[0]!, args.slice(1), { stdio: 'ignore' });
}

async function untilPort(host: string, port: number, timeoutMs: number, log: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > end) throw new Error(`Prosody did not listen on ${host}:${port}\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('federation with Prosody (dialback, network namespace)', { skip: missing.length > 0 ? `missing: ${missing.join(', ')}` : false, timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-prosody-'));
  let prosody: ChildProcess | undefined;
  let a: TestServer | undefined;
  let alice: TestClient;
  let pat: RawClient;
  const prosodyLog = () => {
    try {
      return readFileSync(join(dir, 'prosody.log'), 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      return '(no log)';
    }
  };

  before(async () => {
    sh(['ip', 'netns', 'add', NS]);
    sh(['ip', 'link', 'add', `vp${TAG}h`, 'type', 'veth', 'peer', 'name', `vp${TAG}n`]);
    sh(['ip', 'link', 'set', `vp${TAG}n`, 'netns', NS]);
    sh(['ip', 'addr', 'add', `${HOST_IP}/24`, 'dev', `vp${TAG}h`]);
    sh(['ip', 'link', 'set', `vp${TAG}h`, 'up']);
    sh(['ip', 'netns', 'exec', NS, 'ip', 'addr', 'add', `${PEER_IP}/24`, 'dev', `vp${TAG}n`]);
    sh(['ip', 'netns', 'exec', NS, 'ip', 'link', 'set', `vp${TAG}n`, 'up']);
    sh(['ip', 'netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
    // `ip netns exec` mounts these over /etc/hosts and /etc/resolv.conf inside the namespace (no DNS there).
    mkdirSync(`/etc/netns/${NS}`, { recursive: true });
    writeFileSync(`/etc/netns/${NS}/hosts`, `127.0.0.1 localhost\n${HOST_IP} a.test\n${PEER_IP} p.test\n`);
    writeFileSync(`/etc/netns/${NS}/resolv.conf`, `nameserver ${HOST_IP}\n`);

    sh(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'p.key'), '-out', join(dir, 'p.crt'),
      '-days', '2', '-subj', '/CN=p.test', '-addext', 'subjectAltName=DNS:p.test,DNS:*.p.test']);
    const config = join(dir, 'prosody.cfg.lua');
    writeFileSync(config, `-- Test peer: p.test, in namespace ${NS}
run_as_root = true
unbound = { hoststxt = "/etc/hosts" }
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
log = { { levels = { min = "debug" }, to = "file", filename = "${dir}/prosody.log" } }
interfaces = { "${PEER_IP}" }
c2s_ports = { 5222 }
s2s_ports = { 5269 }
http_ports = {}
https_ports = {}
modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "presence"; "posix" }
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_require_encryption = true
s2s_secure_auth = false
ssl = { certificate = "${dir}/p.crt"; key = "${dir}/p.key" }
VirtualHost "p.test"
`);
    mkdirSync(join(dir, 'data'));
    sh(['ip', 'netns', 'exec', NS, 'prosodyctl', '--config', config, 'register', 'pat', 'p.test', 'pw']);
    prosody = spawn('ip', ['netns', 'exec', NS, 'prosody', '--config', config, '-F'], { stdio: 'ignore' });
    await untilPort(PEER_IP, 5269, 20_000, prosodyLog);

    a = await startTestServer({ domain: 'a.test', s2s: { port: 5269, bind: HOST_IP, static_routes: { 'p.test': `${PEER_IP}:5269` } } } as never);
    await a.createUser('alice');
    alice = await a.client('alice');
    pat = await RawClient.connect(5222, { host: PEER_IP });
    await pat.login('pat', 'pw', 'raw', 'p.test');
    pat.write(`<presence/>`);
  });

  after(async () => {
    pat?.destroy();
    await a?.stop();
    if (prosody?.pid !== undefined) {
      try {
        // The prosody process inside the namespace (ip netns exec replaced itself with it).
        process.kill(prosody.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      await new Promise((r) => setTimeout(r, 500));
      if (prosody.exitCode === null) prosody.kill('SIGKILL');
    }
    spawnSync('ip', ['netns', 'del', NS]);
    spawnSync('ip', ['link', 'del', `vp${TAG}h`]);
    rmSync(`/etc/netns/${NS}`, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers messages both ways', async () => {
    await alice.send(`<message to='pat@p.test' type='chat'><body>hello from Parley</body></message>`);
    await pat.waitFor('hello from Parley', 20_000).catch((err: Error) => assert.fail(`${err.message}\n${prosodyLog()}`));
    assert.match(pat.data, /from=['"]alice@a\.test\//);
    pat.write(`<message to='alice@a.test' type='chat'><body>hello from Prosody</body></message>`);
    const got = await alice.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'hello from Prosody', 20_000);
    assert.equal(got.attrs.from, 'pat@p.test/raw');
  });

  it('answers an iq across, and Prosody bounces a message to a user it does not have', async () => {
    const pong = await alice.iq(`<iq type='get' to='p.test'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(pong.attrs.type, 'result', pong.toString());
    await alice.send(`<message to='nobody@p.test' type='chat' id='px1'><body>anyone?</body></message>`);
    const err = await alice.waitFor((el) => el.attrs.id === 'px1' && el.attrs.type === 'error', 10_000);
    assert.equal(err.attrs.from, 'nobody@p.test');
  });

  it('brings a subscription to both with presence', async () => {
    await alice.send(`<presence to='pat@p.test' type='subscribe'/>`);
    await pat.waitFor(/<presence [^>]*type=['"]subscribe['"]/, 10_000);
    pat.write(`<presence to='alice@a.test' type='subscribed'/><presence to='alice@a.test' type='subscribe'/>`);
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from === 'pat@p.test', 10_000);
    await alice.send(`<presence to='pat@p.test' type='subscribed'/>`);
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.from === 'pat@p.test/raw' && el.attrs.type === undefined, 10_000);
    const roster = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
    assert.equal(roster.getChild('query')?.getChild('item')?.attrs.subscription, 'both', roster.toString());
  });
});
