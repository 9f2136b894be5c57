// XEP-0484 FAST on the wire: a token requested with a password login, used with HT-SHA-256-NONE (and the
// channel-bound HT mechanisms over TLS), replay counters, expiry, rotation, invalidation, revocation with the
// password or the account; malformed requests; and xmpp.js reconnecting with nothing but its token.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { client as xmppClient, xml, type FastToken } from '@xmpp/client';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, RawClient, type TestServer } from '../../testing/harness';
import { FAST, SASL2, attrOf, authenticate, expectAnswersOnFreshStreams, htInitial, htResponder, openStream, plain, textOf } from '../../testing/sasl2';
import type { ClientTokens } from './tokens';

const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const DONE = /<\/failure>|<\/stream:features>/;
const failure = (condition: string) => `<failure xmlns='${SASL2}'><${condition} xmlns='${SASL}'/>`;

interface Token {
  token: string;
  expiry: string;
}

/** Password login (PLAIN, Bind 2) asking for a token; resolves with it. */
async function requestToken(ts: TestServer, user: string, ua: string, mechanism = 'HT-SHA-256-NONE'): Promise<Token> {
  const r = await ts.raw();
  await openStream(r);
  r.write(authenticate('PLAIN', { initial: plain(user), userAgent: { id: ua }, bind: true, extra: `<request-token xmlns='${FAST}' mechanism='${mechanism}'/>` }));
  const data = await r.waitFor(DONE);
  r.destroy();
  const token = attrOf(data, 'token', 'token');
  const expiry = attrOf(data, 'token', 'expiry');
  assert.ok(token && expiry, data);
  return { token, expiry };
}

interface FastOptions {
  mechanism?: string;
  count?: number | string;
  invalidate?: string;
  request?: string;
  /** Authenticate as this user (default: the token's owner). */
  user?: string;
}

/** A FAST login on a fresh stream; resolves with everything up to the failure or the features. */
async function fastLogin(ts: TestServer, user: string, ua: string, token: string, o: FastOptions = {}): Promise<string> {
  const r = await ts.raw();
  await openStream(r);
  const attrs = `${o.count === undefined ? '' : ` count='${o.count}'`}${o.invalidate === undefined ? '' : ` invalidate='${o.invalidate}'`}`;
  const request = o.request ? `<request-token xmlns='${FAST}' mechanism='${o.request}'/>` : '';
  r.write(
    authenticate(o.mechanism ?? 'HT-SHA-256-NONE', {
      initial: htInitial(o.user ?? user, token),
      userAgent: { id: ua },
      bind: true,
      extra: `<fast xmlns='${FAST}'${attrs}/>${request}`,
    }),
  );
  const data = await r.waitFor(DONE);
  r.destroy();
  return data;
}

describe('FAST (XEP-0484)', () => {
  let ts: TestServer;
  const store = () => ts.running.server.storage.map<ClientTokens>('fast_tokens');
  /** Rewrites every stored token of an account (expiry and rotation without waiting). */
  async function age(owner: string, change: (t: NonNullable<ClientTokens['current']>) => void): Promise<void> {
    for (const [key, entry] of await store().getAll(owner)) {
      for (const t of [entry.new, entry.current]) if (t) change(t);
      await store().set(owner, key, entry);
    }
  }

  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank', 'ivy', 'judy', 'kim', 'lee', 'mia']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('issues a token in <success/> when a password login asks for one (§3.2)', async () => {
    const before = Date.now();
    const { token, expiry } = await requestToken(ts, 'alice', 'ua-a');
    assert.match(token, /^secret-token:fast-[A-Za-z0-9_-]{43}$/);
    // modules.options.fast.token_lifetime_days defaults to 14.
    const lifetime = Date.parse(expiry) - before;
    assert.ok(lifetime > 13.9 * 86_400_000 && lifetime <= 14 * 86_400_000 + 60_000, expiry);
  });

  it('authenticates with the token in one round trip and proves it knows the token too', async () => {
    const { token } = await requestToken(ts, 'bob', 'ua-b');
    const data = await fastLogin(ts, 'bob', 'ua-b', token);
    assert.match(data, /^<success xmlns='urn:xmpp:sasl:2'>/, data);
    assert.equal(textOf(data, 'additional-data'), htResponder(token));
    assert.match(textOf(data, 'authorization-identifier')!, /^bob@localhost\/[0-9a-f]{8}$/);
    // A token far from its expiry is not rotated.
    assert.doesNotMatch(data, /<token /);
    // Used again (no replay counter): still good.
    assert.match(await fastLogin(ts, 'bob', 'ua-b', token), /^<success /);
  });

  it('binds a token to its client and its account', async () => {
    const { token } = await requestToken(ts, 'carol', 'ua-c');
    assert.match(await fastLogin(ts, 'carol', 'ua-other', token), new RegExp(failure('not-authorized')));
    assert.match(await fastLogin(ts, 'carol', 'ua-c', token, { user: 'alice' }), new RegExp(failure('not-authorized')));
    assert.match(await fastLogin(ts, 'carol', 'ua-c', `${token}x`), new RegExp(failure('not-authorized')));
    assert.match(await fastLogin(ts, 'carol', 'ua-c', token), /^<success /);
  });

  it('rejects a replay counter that is not above the last one used with the token (§3.3)', async () => {
    const { token } = await requestToken(ts, 'dave', 'ua-d');
    assert.match(await fastLogin(ts, 'dave', 'ua-d', token, { count: 5 }), /^<success /);
    assert.match(
      await fastLogin(ts, 'dave', 'ua-d', token, { count: 5 }),
      /<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-sasl'\/><text xml:lang='en'>the count was already used with this token<\/text>/,
    );
    assert.match(await fastLogin(ts, 'dave', 'ua-d', token, { count: 4 }), new RegExp(failure('not-authorized')));
    assert.match(await fastLogin(ts, 'dave', 'ua-d', token, { count: 6 }), /^<success /);
  });

  it('fails an expired token with credentials-expired and forgets it (§4.2)', async () => {
    const { token } = await requestToken(ts, 'erin', 'ua-e');
    await age('erin@localhost', (t) => {
      t.expiresAt = Date.now() - 1000;
    });
    assert.match(await fastLogin(ts, 'erin', 'ua-e', token), new RegExp(failure('credentials-expired')));
    assert.equal((await store().getAll('erin@localhost')).size, 0);
  });

  it('forgets clients whose tokens all expired when the account gets a new token', async () => {
    await requestToken(ts, 'kim', 'ua-gone');
    await age('kim@localhost', (t) => {
      t.expiresAt = Date.now() - 1000;
    });
    const { token } = await requestToken(ts, 'kim', 'ua-new');
    const left = [...(await store().getAll('kim@localhost')).values()];
    assert.equal(left.length, 1);
    assert.ok(left[0]!.new && !left[0]!.current);
    assert.match(await fastLogin(ts, 'kim', 'ua-new', token), /^<success /);
  });

  it('rotates a token past half its lifetime, keeping the old one until the new one is used (§3.4)', async () => {
    const { token: old } = await requestToken(ts, 'frank', 'ua-f');
    assert.match(await fastLogin(ts, 'frank', 'ua-f', old), /^<success /);
    await age('frank@localhost', (t) => {
      t.issuedAt -= 8 * 86_400_000;
      t.expiresAt -= 8 * 86_400_000;
    });
    const rotated = await fastLogin(ts, 'frank', 'ua-f', old);
    const fresh = attrOf(rotated, 'token', 'token');
    assert.ok(fresh && fresh !== old, rotated);
    // The new token may never have arrived: the old one still works, and is rotated again.
    const again = await fastLogin(ts, 'frank', 'ua-f', old);
    const fresher = attrOf(again, 'token', 'token');
    assert.ok(fresher && fresher !== fresh, again);
    // The unused token of the previous rotation was replaced (§3.4 SHOULD).
    assert.match(await fastLogin(ts, 'frank', 'ua-f', fresh), new RegExp(failure('not-authorized')));
    // Once the newest is used, the old one is gone.
    const used = await fastLogin(ts, 'frank', 'ua-f', fresher);
    assert.match(used, /^<success /);
    assert.doesNotMatch(used, /<token /);
    assert.match(await fastLogin(ts, 'frank', 'ua-f', old), new RegExp(failure('not-authorized')));
  });

  it('invalidates the token on request, and issues another only when asked as well (§3.5)', async () => {
    const { token } = await requestToken(ts, 'gina', 'ua-g');
    const out = await fastLogin(ts, 'gina', 'ua-g', token, { invalidate: 'true' });
    assert.match(out, /^<success /);
    assert.doesNotMatch(out, /<token /);
    assert.match(await fastLogin(ts, 'gina', 'ua-g', token), new RegExp(failure('not-authorized')));

    const { token: second } = await requestToken(ts, 'gina', 'ua-g');
    const replaced = await fastLogin(ts, 'gina', 'ua-g', second, { invalidate: '1', request: 'HT-SHA-256-NONE' });
    const third = attrOf(replaced, 'token', 'token');
    assert.ok(third, replaced);
    assert.match(await fastLogin(ts, 'gina', 'ua-g', second), new RegExp(failure('not-authorized')));
    assert.match(await fastLogin(ts, 'gina', 'ua-g', third), /^<success /);
  });

  it('revokes every token of an account when its password changes or it is deleted', async () => {
    const { token } = await requestToken(ts, 'hank', 'ua-h');
    await ts.running.server.accounts.setPassword('hank', 'secret');
    assert.match(await fastLogin(ts, 'hank', 'ua-h', token), new RegExp(failure('not-authorized')));

    await requestToken(ts, 'ivy', 'ua-i1');
    await requestToken(ts, 'ivy', 'ua-i2');
    assert.equal((await store().getAll('ivy@localhost')).size, 2);
    await ts.running.server.accounts.delete('ivy');
    assert.equal((await store().getAll('ivy@localhost')).size, 0);
  });

  it('answers malformed FAST requests with a precise failure', async () => {
    const cases: [string, string][] = [
      // <fast/> with a password mechanism, a token mechanism without <fast/>.
      [authenticate('PLAIN', { initial: plain('judy'), userAgent: { id: 'u' }, extra: `<fast xmlns='${FAST}'/>` }), failure('invalid-mechanism')],
      [authenticate('HT-SHA-256-NONE', { initial: htInitial('judy', 't'), userAgent: { id: 'u' } }), failure('invalid-mechanism')],
      [
        authenticate('PLAIN', { initial: plain('judy'), userAgent: { id: 'u' }, extra: `<request-token xmlns='${FAST}' mechanism='HT-MD5-NONE'/>` }),
        "<text xml:lang='en'>&lt;request-token/&gt; must name one of: HT-SHA-256-NONE</text>",
      ],
      [
        authenticate('PLAIN', { initial: plain('judy'), extra: `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>` }),
        "<text xml:lang='en'>FAST needs &lt;user-agent id=…/&gt;</text>",
      ],
      [authenticate('HT-SHA-256-NONE', { initial: htInitial('judy', 't'), userAgent: { id: 'u' }, extra: `<fast xmlns='${FAST}' count='-1'/>` }), failure('malformed-request')],
      [authenticate('HT-SHA-256-NONE', { initial: htInitial('judy', 't'), userAgent: { id: 'u' }, extra: `<fast xmlns='${FAST}' invalidate='maybe'/>` }), failure('malformed-request')],
      [authenticate('HT-SHA-256-NONE', { initial: Buffer.from('judy-without-nul').toString('base64'), userAgent: { id: 'u' }, extra: `<fast xmlns='${FAST}'/>` }), failure('malformed-request')],
      [authenticate('HT-SHA-256-NONE', { initial: Buffer.from('judy\0short').toString('base64'), userAgent: { id: 'u' }, extra: `<fast xmlns='${FAST}'/>` }), failure('not-authorized')],
    ];
    await expectAnswersOnFreshStreams(() => ts.raw(), cases);
  });

  it('offers the channel-bound HT mechanisms over TLS and holds a token to the mechanism it was issued for', async () => {
    const r = await RawClient.connectTls(ts.tlsPort);
    const features = await openStream(r);
    assert.match(features, /<fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-EXPR<\/mechanism><mechanism>HT-SHA-256-ENDP<\/mechanism><mechanism>HT-SHA-256-NONE<\/mechanism><\/fast>/);
    r.write(authenticate('PLAIN', { initial: plain('judy'), userAgent: { id: 'ua-tls' }, extra: `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-EXPR'/>` }));
    const token = attrOf(await r.waitFor(DONE), 'token', 'token')!;
    r.destroy();

    const login = async (mechanism: string, withBinding: boolean): Promise<{ data: string; cb: Buffer }> => {
      const c = await RawClient.connectTls(ts.tlsPort);
      await openStream(c);
      // RFC 9266: tls-exporter, as the client's side of the connection computes it.
      const cb = (c.socket as import('node:tls').TLSSocket).exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
      c.write(authenticate(mechanism, { initial: htInitial('judy', token, withBinding ? cb : undefined), userAgent: { id: 'ua-tls' }, extra: `<fast xmlns='${FAST}'/>` }));
      const data = await c.waitFor(DONE);
      c.destroy();
      return { data, cb };
    };
    // §3.3: a token issued for a channel-bound mechanism is refused with a weaker one.
    assert.match((await login('HT-SHA-256-NONE', false)).data, new RegExp(failure('not-authorized')));
    // Binding data of another connection does not match this one.
    const { data, cb } = await login('HT-SHA-256-EXPR', true);
    assert.match(data, /^<success /, data);
    assert.equal(textOf(data, 'additional-data'), htResponder(token, cb));
  });

  it('lets xmpp.js log in with a password, keep the token, and reconnect with the token alone', async () => {
    const userAgent = () => xml('user-agent', { id: 'xmppjs-fast-test' }, xml('software', {}, 'parley tests'));
    let saved: FastToken | undefined;
    const first = xmppClient({ service: `xmpp://127.0.0.1:${ts.port}`, domain: 'localhost', username: 'judy', password: 'secret', userAgent: userAgent() });
    first.on('error', () => {});
    const gotToken = new Promise<void>((resolve) => {
      first.fast.saveToken = async (t) => {
        saved = t;
        resolve();
      };
    });
    const firstJid = (await first.start()).toString();
    await gotToken;
    await first.stop();
    assert.equal(saved?.mechanism, 'HT-SHA-256-NONE');

    // No password at all: only a FAST authentication can succeed.
    const second = xmppClient({ service: `xmpp://127.0.0.1:${ts.port}`, domain: 'localhost', username: 'judy', userAgent: userAgent() });
    second.on('error', () => {});
    second.fast.fetchToken = async () => saved;
    const secondJid = (await second.start()).toString();
    // Same installation, same resource (XEP-0386).
    assert.equal(secondJid, firstJid);
    const pong = await second.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    assert.equal(pong.attrs.type, 'result');
    await second.stop();
    const entry = [...(await store().getAll('judy@localhost')).values()].find((e) => e.current !== undefined && e.new === undefined);
    assert.ok(entry, 'the token was used: it moved to the current slot');
  });

  it('stores only a seed: a read of the database gives no usable token (issue 8 item 10)', async () => {
    const { token } = await requestToken(ts, 'lee', 'ua-l');
    const stored = [...(await store().getAll('lee@localhost')).values()];
    const dump = JSON.stringify(stored);
    const secret = token.replace('secret-token:fast-', '');
    assert.ok(!dump.includes(secret), dump);
    const seed = stored[0]!.new!.seed;
    // Neither the seed nor the token a naive derivation without the key would give is accepted.
    for (const guess of [seed, `secret-token:fast-${seed}`]) {
      assert.match(await fastLogin(ts, 'lee', 'ua-l', guess), new RegExp(failure('not-authorized')));
    }
    assert.match(await fastLogin(ts, 'lee', 'ua-l', token), /^<success /);
    // The key is in a file of its own, readable by the server's user only.
    const mode = statSync(join(ts.config.data_dir, 'fast-token.key')).mode & 0o777;
    assert.equal(mode, 0o600);
  });

  it('refuses and drops a plaintext token stored by an earlier version; the client logs in with its password again', async () => {
    const legacy = 'secret-token:fast-stored-in-the-clear';
    const now = Date.now();
    const key = createHash('sha256').update('ua-m', 'utf8').digest('hex');
    await store().set('mia@localhost', key, { new: { mechanism: 'HT-SHA-256-NONE', token: legacy, issuedAt: now, expiresAt: now + 3_600_000 } } as never);
    assert.match(await fastLogin(ts, 'mia', 'ua-m', legacy), new RegExp(failure('not-authorized')));
    assert.equal((await store().getAll('mia@localhost')).size, 0);
    const { token } = await requestToken(ts, 'mia', 'ua-m');
    assert.match(await fastLogin(ts, 'mia', 'ua-m', token), /^<success /);
  });
});

describe('FAST tokens stored in plaintext by an earlier version', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-fast-'));
  const config = { data_dir: dataDir, storage: { backend: 'sqlite' as const } };
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('are purged from the database when the server starts; the key survives restarts', async () => {
    const first = await startTestServer(config);
    await first.createUser('nora');
    const { token } = await requestToken(first, 'nora', 'ua-kept');
    const now = Date.now();
    await first.running.server.storage
      .map('fast_tokens')
      .set('nora@localhost', 'legacy-client', { current: { mechanism: 'HT-SHA-256-NONE', token: 'secret-token:fast-old', issuedAt: now, expiresAt: now + 3_600_000 } });
    await first.stop();

    const second = await startTestServer(config);
    try {
      const store = second.running.server.storage.map<ClientTokens>('fast_tokens');
      const deadline = Date.now() + 5000;
      while ((await store.get('nora@localhost', 'legacy-client')) !== undefined && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(await store.get('nora@localhost', 'legacy-client'), undefined);
      // A token issued before the restart still works: the key file was kept, not regenerated.
      assert.match(await fastLogin(second, 'nora', 'ua-kept', token), /^<success /);
    } finally {
      await second.stop();
    }
  });
});
