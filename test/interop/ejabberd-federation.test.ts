// Federation with a real ejabberd (Debian's 23.01): ejabberd serves e.test (and conference.e.test, mod_muc) inside a
// network namespace of its own (test/interop/netns.ts), Parley serves a.test on the host side of the veth and reaches
// e.test through s2s.static_routes; ejabberd finds a.test in the namespace's hosts file. Two variants:
//  - dialback: self-signed certificates on both sides, so the servers authenticate each other by dialback (XEP-0220)
//    over STARTTLS; the peer is also killed with SIGKILL and restarted, and Parley restarted;
//  - SASL EXTERNAL only: certificates from a test CA, ejabberd without mod_s2s_dialback and with `ca_file`, Parley with
//    s2s.auth external; both directions must authenticate with EXTERNAL (XEP-0178), read from Parley's log.
// ejabberd runs through ejabberdctl with its own configuration, spool and logs in a temporary directory, as the
// invoking user (root), its Erlang distribution on a pinned port without epmd and a node name unique per test
// process; it is stopped by process group. Needs root, `ip`, ejabberdctl, erl and openssl: skips, saying which is
// missing, otherwise.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const missing = missingForNamespaces(['ejabberdctl', 'erl']);
const skip = missing.length > 0 ? `missing: ${missing.join(', ')}` : false;
const DOMAIN = 'e.test';
let instances = 0;

interface Ejabberd {
  process: PeerProcess;
  /** Runs an ejabberdctl command against the running node. */
  ctl(args: string[]): string;
}

/** ejabberd for e.test in `ns`; `external`: a CA-issued certificate and no dialback, else self-signed and dialback. */
function ejabberd(ns: PeerNamespace, dir: string, external: { ca: TestCa } | undefined): Ejabberd {
  const { cert, key } = external ? external.ca.issue(DOMAIN) : selfSignedCertificate(dir, DOMAIN);
  const pem = join(dir, `${DOMAIN}.pem`);
  writeFileSync(pem, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  mkdirSync(join(dir, 'spool'));
  mkdirSync(join(dir, 'logs'));
  // Sourced by ejabberdctl after its own defaults: run as the invoking user (not `su ejabberd`), an Erlang node of our
  // own, its distribution on a fixed port inside the namespace with no epmd (TESTING.md).
  writeFileSync(join(dir, 'ejabberdctl.cfg'), [
    'EXEC_CMD=as_current_user',
    `ERLANG_NODE=parley-test-${process.pid}-${instances++}@localhost`,
    'ERL_DIST_PORT=5290',
    'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"',
    `EJABBERD_PID_PATH=${dir}/ejabberd.pid`,
    '',
  ].join('\n'));
  // Erlang's resolver: addresses from the namespace's hosts file only; the SRV lookups ejabberd makes first go to a
  // nameserver on this host's veth address where nothing listens (refused at once), bounded in time all the same.
  writeFileSync(join(dir, 'inetrc'), `{file, hosts, "/etc/hosts"}.\n{lookup, [file]}.\n{nameserver, {${ns.hostIp.replaceAll('.', ',')}}, 53}.\n{timeout, 200}.\n{retry, 1}.\n`);
  writeFileSync(join(dir, 'ejabberd.yml'), `# Test peer: ${DOMAIN} in namespace ${ns.name}
hosts: ["${DOMAIN}"]
loglevel: info
log_rotate_count: 0
certfiles: ["${pem}"]
${external ? `ca_file: "${external.ca.caFile}"` : ''}
listen:
  - port: 5222
    ip: "${ns.peerIp}"
    module: ejabberd_c2s
    access: all
  - port: 5269
    ip: "${ns.peerIp}"
    module: ejabberd_s2s_in
s2s_use_starttls: required
# One try per lookup (0 means none at all: every outgoing stream fails at once with "DNS lookup failed: timeout").
s2s_dns_timeout: 1
s2s_dns_retries: 1
outgoing_s2s_families: [ipv4]
auth_method: internal
auth_password_format: plain
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
modules:
  mod_disco: {}
  mod_roster: {}
  mod_ping: {}
  mod_version: {}
  mod_muc:
    host: "conference.${DOMAIN}"
    access: [allow]
    access_create: all
    access_persistent: all
${external ? '  # no mod_s2s_dialback: SASL EXTERNAL only' : '  mod_s2s_dialback: {}'}
`);
  const env = { ...process.env, HOME: dir };
  const base = ['ejabberdctl', '--config-dir', dir, '--config', join(dir, 'ejabberd.yml'), '--ctl-config', join(dir, 'ejabberdctl.cfg'),
    '--spool', join(dir, 'spool'), '--logs', join(dir, 'logs')];
  return {
    process: new PeerProcess(ns, 'ejabberd', [...base, 'foreground'], { env, logFile: join(dir, 'logs', 'ejabberd.log'), ports: [5222, 5269] }),
    ctl: (args) => ns.run([...base, ...args], { env, timeoutMs: 30_000 }),
  };
}

/** Registers the user unless it exists (a SIGKILL may lose a registration mnesia had not written yet). */
function ensureUser(peer: Ejabberd, user: string, password: string): void {
  const users = peer.ctl(['registered_users', DOMAIN]).split('\n');
  if (!users.includes(user)) peer.ctl(['register', user, DOMAIN, password]);
}

function setup(variant: 'dialback' | 'external') {
  const state = {} as {
    dir: string;
    ns: PeerNamespace;
    ca: TestCa | undefined;
    peer: Ejabberd;
    a: TestServer;
    f: Federation;
    logs: ReturnType<typeof capturingLogger>;
  };
  const startParley = async () => {
    const ca = state.ca;
    const tls = ca ? ca.issue('a.test') : undefined;
    state.a = await startTestServer(
      {
        domain: 'a.test',
        ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
        s2s: {
          port: 5269,
          bind: state.ns.hostIp,
          auth: variant === 'external' ? 'external' : 'any',
          ...(ca ? { ca_file: ca.caFile } : {}),
          static_routes: { [DOMAIN]: `${state.ns.peerIp}:5269`, [`conference.${DOMAIN}`]: `${state.ns.peerIp}:5269` },
        },
      } as never,
      { log: state.logs.log },
    );
    await state.a.createUser('alice');
    state.f.alice = await state.a.client('alice');
  };
  const connectEve = async () => {
    state.f.remote?.destroy();
    state.f.remote = await connectRemote(state.ns.peerIp, 5222, 'eve', 'pw', DOMAIN);
  };

  before(async () => {
    state.dir = mkdtempSync(join(tmpdir(), 'parley-ejabberd-'));
    state.ns = createNamespace(['a.test', 'conference.a.test'], [DOMAIN, `conference.${DOMAIN}`]);
    state.ca = variant === 'external' ? createTestCa() : undefined;
    state.logs = capturingLogger('debug');
    state.peer = ejabberd(state.ns, state.dir, state.ca ? { ca: state.ca } : undefined);
    await state.peer.process.start(60_000);
    ensureUser(state.peer, 'eve', 'pw');
    state.f = { remoteJid: `eve@${DOMAIN}`, remoteDomain: DOMAIN, remoteMuc: `conference.${DOMAIN}`, diagnose: () => `${state.peer.process.log()}\n--- Parley log:\n${state.logs.lines.slice(-40).join('')}` } as Federation;
    await startParley();
    await connectEve();
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

  return { state, startParley, connectEve };
}

describe('federation with ejabberd: dialback (self-signed certificates, network namespace)', { skip, timeout: 120_000 }, () => {
  const { state, startParley, connectEve } = setup('dialback');

  it('delivers messages both ways', () => messagesBothWays(state.f));
  it('answers iqs across (version, disco) both ways', () => iqAnsweredBothWays(state.f));
  it('bounces a message to a user ejabberd does not have, with its stanza error', () => unknownRemoteUserBounces(state.f));
  it('brings a subscription to both with presence broadcast', () => subscriptionToBoth(state.f));
  it('takes an ejabberd user into a Parley room', () => remoteUserInLocalRoom(state.f));
  it('takes a Parley user into an ejabberd room (mod_muc)', () => localUserInRemoteRoom(state.f));

  it('delivers again after ejabberd was killed with SIGKILL and restarted', async () => {
    await state.peer.process.kill('SIGKILL');
    await state.peer.process.start(60_000);
    ensureUser(state.peer, 'eve', 'pw');
    await connectEve();
    // Parley's stream to e.test died with the peer; the next stanza builds a new one (and ejabberd a new one back).
    await messagesBothWays(state.f);
  });

  it('delivers again after Parley was restarted', async () => {
    await state.f.alice.stop();
    await state.a.stop();
    await startParley();
    await messagesBothWays(state.f);
    assert.ok(state.logs.find('s2s incoming authenticated', { remote: DOMAIN, method: 'dialback' }), 'ejabberd authenticated by dialback');
  });
});

describe('federation with ejabberd: SASL EXTERNAL only (test CA, no dialback)', { skip, timeout: 120_000 }, () => {
  const { state } = setup('external');

  it('delivers messages both ways, each direction authenticated by SASL EXTERNAL', async () => {
    await messagesBothWays(state.f);
    assert.ok(state.logs.find('s2s outgoing authenticated', { local: 'a.test', remote: DOMAIN, method: 'EXTERNAL' }), state.logs.lines.join(''));
    assert.ok(state.logs.find('s2s incoming authenticated', { remote: DOMAIN, method: 'EXTERNAL' }), state.logs.lines.join(''));
    assert.ok(!state.logs.find('s2s incoming authenticated', { method: 'dialback' }), 'no dialback');
  });

  it('answers iqs across both ways', () => iqAnsweredBothWays(state.f));

  it('takes an ejabberd user into a Parley room (conference.a.test authenticates with its own certificate name)', async () => {
    await remoteUserInLocalRoom(state.f);
    assert.ok(state.logs.find('s2s outgoing authenticated', { local: 'conference.a.test', remote: DOMAIN, method: 'EXTERNAL' }), state.logs.lines.join(''));
  });

  it('takes a Parley user into an ejabberd room (to conference.e.test, authenticated by EXTERNAL)', async () => {
    await localUserInRemoteRoom(state.f);
    assert.ok(state.logs.find('s2s outgoing authenticated', { local: 'a.test', remote: `conference.${DOMAIN}`, method: 'EXTERNAL' }), state.logs.lines.join(''));
  });
});
