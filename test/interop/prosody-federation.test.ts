// Federation with a real Prosody (Debian's 0.12): Prosody serves p.test (and conference.p.test, its MUC component)
// inside a network namespace of its own (test/interop/netns.ts: veth pair to this host, per-namespace hosts file,
// which Prosody's resolver reads, naming a.test); Parley serves a.test on the host side of the veth and reaches p.test
// through s2s.static_routes. Two variants:
//  - dialback: self-signed certificates on both sides, so the servers authenticate each other by dialback (XEP-0220)
//    over STARTTLS; Prosody is also killed with SIGKILL and restarted;
//  - SASL EXTERNAL only: certificates from a test CA, Prosody with s2s_secure_auth and the CA, Parley with s2s.auth
//    external; both directions must authenticate with EXTERNAL (XEP-0178), read from Parley's log.
// Everything (namespace, veth, hosts file, Prosody's configuration and data) is created here and removed at the end,
// also on failure; Prosody is stopped by process group. Needs root, `ip`, prosody, prosodyctl and openssl: skips,
// saying which is missing, otherwise.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../packages/server/src/testing/harness';
import { createTestCa, type TestCa } from '../../packages/server/src/testing/test-ca';
import { capturingLogger, createNamespace, missingForNamespaces, PeerProcess, selfSignedCertificate, type PeerNamespace } from './netns';
import {
  connectRemote,
  iqAnsweredBothWays,
  localUserInRemoteRoom,
  messagesBothWays,
  remoteUserInLocalRoom,
  subscriptionToBoth,
  unknownRemoteUserBounces,
  type Federation,
} from './federation-scenarios';

const missing = missingForNamespaces(['prosody', 'prosodyctl']);
const skip = missing.length > 0 ? `missing: ${missing.join(', ')}` : false;
const DOMAIN = 'p.test';

/** Prosody for p.test in `ns`; `ca`: a CA-issued certificate and s2s_secure_auth (no dialback), else self-signed. */
function prosody(ns: PeerNamespace, dir: string, ca: TestCa | undefined): { process: PeerProcess; ctl(args: string[]): string } {
  const { cert, key } = ca ? ca.issue(DOMAIN) : selfSignedCertificate(dir, DOMAIN);
  const config = join(dir, 'prosody.cfg.lua');
  writeFileSync(config, `-- Test peer: ${DOMAIN}, in namespace ${ns.name}
run_as_root = true
unbound = { hoststxt = "/etc/hosts" }
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
log = { { levels = { min = "debug" }, to = "file", filename = "${dir}/prosody.log" } }
interfaces = { "${ns.peerIp}" }
c2s_ports = { 5222 }
s2s_ports = { 5269 }
http_ports = {}
https_ports = {}
modules_enabled = { "roster"; "saslauth"; "tls"; ${ca ? '' : '"dialback"; '}"disco"; "ping"; "version"; "presence"; "posix" }
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_require_encryption = true
s2s_secure_auth = ${ca ? 'true' : 'false'}
${ca ? `ssl = { certificate = "${cert}"; key = "${key}"; cafile = "${ca.caFile}" }` : `ssl = { certificate = "${cert}"; key = "${key}" }`}
VirtualHost "${DOMAIN}"
Component "conference.${DOMAIN}" "muc"
  restrict_room_creation = false
`);
  mkdirSync(join(dir, 'data'));
  return {
    process: new PeerProcess(ns, 'prosody', ['prosody', '--config', config, '-F'], { logFile: join(dir, 'prosody.log'), ports: [5222, 5269] }),
    ctl: (args) => ns.run(['prosodyctl', '--config', config, ...args]),
  };
}

function setup(variant: 'dialback' | 'external') {
  const state = {} as {
    dir: string;
    ns: PeerNamespace;
    ca: TestCa | undefined;
    peer: ReturnType<typeof prosody>;
    a: TestServer;
    f: Federation;
    logs: ReturnType<typeof capturingLogger>;
  };

  const startParley = async () => {
    const tls = state.ca?.issue('a.test');
    state.a = await startTestServer(
      {
        domain: 'a.test',
        ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
        s2s: {
          port: 5269,
          bind: state.ns.hostIp,
          auth: variant === 'external' ? 'external' : 'any',
          ...(state.ca ? { ca_file: state.ca.caFile } : {}),
          static_routes: { [DOMAIN]: `${state.ns.peerIp}:5269`, [`conference.${DOMAIN}`]: `${state.ns.peerIp}:5269` },
        },
      } as never,
      { log: state.logs.log },
    );
    await state.a.createUser('alice');
    state.f.alice = await state.a.client('alice');
  };

  before(async () => {
    state.dir = mkdtempSync(join(tmpdir(), 'parley-prosody-'));
    state.ns = createNamespace(['a.test', 'conference.a.test'], [DOMAIN, `conference.${DOMAIN}`]);
    state.ca = variant === 'external' ? createTestCa() : undefined;
    state.logs = capturingLogger('debug');
    state.peer = prosody(state.ns, state.dir, state.ca);
    state.peer.ctl(['register', 'pat', DOMAIN, 'pw']);
    await state.peer.process.start();
    state.f = {
      remoteJid: `pat@${DOMAIN}`,
      remoteDomain: DOMAIN,
      remoteMuc: `conference.${DOMAIN}`,
      diagnose: () => `${state.peer.process.log(40)}\n--- Parley log:\n${state.logs.lines.slice(-30).join('')}`,
    } as Federation;
    await startParley();
    state.f.remote = await connectRemote(state.ns.peerIp, 5222, 'pat', 'pw', DOMAIN);
  });

  after(async () => {
    state.f?.remote?.destroy();
    await state.a?.stop();
    await state.peer?.process.kill('SIGTERM');
    state.ns?.remove();
    state.ca?.remove();
    // PARLEY_KEEP_PEER_DIR=1 keeps the peer's configuration and logs for a look after a failure.
    if (state.dir && !process.env.PARLEY_KEEP_PEER_DIR) rmSync(state.dir, { recursive: true, force: true });
  });

  return { state, startParley };
}

describe('federation with Prosody: dialback (self-signed certificates, network namespace)', { skip, timeout: 120_000 }, () => {
  const { state, startParley } = setup('dialback');

  it('delivers messages both ways', () => messagesBothWays(state.f));
  it('answers iqs across (version, disco) both ways', () => iqAnsweredBothWays(state.f));
  it('bounces a message to a user Prosody does not have, with its stanza error', () => unknownRemoteUserBounces(state.f));
  it('brings a subscription to both with presence broadcast', () => subscriptionToBoth(state.f));
  it('takes a Prosody user into a Parley room', () => remoteUserInLocalRoom(state.f));
  it('takes a Parley user into a Prosody room (conference.p.test)', () => localUserInRemoteRoom(state.f));

  it('delivers again after Prosody was killed with SIGKILL and restarted', async () => {
    await state.peer.process.kill('SIGKILL');
    await state.peer.process.start();
    state.f.remote.destroy();
    state.f.remote = await connectRemote(state.ns.peerIp, 5222, 'pat', 'pw', DOMAIN);
    // Parley's stream to p.test died with the peer; the next stanza builds a new one (and Prosody a new one back).
    await messagesBothWays(state.f);
    assert.ok(state.logs.find('s2s incoming authenticated', { remote: DOMAIN, method: 'dialback' }), 'Prosody authenticated by dialback');
  });

  it('delivers again after Parley was restarted', async () => {
    await state.f.alice.stop();
    await state.a.stop();
    await startParley();
    await messagesBothWays(state.f);
  });
});

describe('federation with Prosody: SASL EXTERNAL only (test CA, s2s_secure_auth)', { skip, timeout: 120_000 }, () => {
  const { state } = setup('external');

  it('delivers messages both ways, each direction authenticated by SASL EXTERNAL', async () => {
    await messagesBothWays(state.f);
    const log = () => state.logs.lines.join('');
    assert.ok(state.logs.find('s2s outgoing authenticated', { local: 'a.test', remote: DOMAIN, method: 'EXTERNAL' }), log());
    assert.ok(state.logs.find('s2s incoming authenticated', { remote: DOMAIN, method: 'EXTERNAL' }), log());
    assert.ok(!state.logs.find('s2s incoming authenticated', { method: 'dialback' }), 'no dialback');
  });

  it('takes a Prosody user into a Parley room (conference.a.test authenticates with its own certificate name)', async () => {
    await remoteUserInLocalRoom(state.f);
    assert.ok(state.logs.find('s2s outgoing authenticated', { local: 'conference.a.test', remote: DOMAIN, method: 'EXTERNAL' }), state.logs.lines.join(''));
  });

  it('takes a Parley user into a Prosody room (to conference.p.test, authenticated by EXTERNAL)', async () => {
    await localUserInRemoteRoom(state.f);
    assert.ok(state.logs.find('s2s outgoing authenticated', { local: 'a.test', remote: `conference.${DOMAIN}`, method: 'EXTERNAL' }), state.logs.lines.join(''));
  });
});
