import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { SaslFailure } from '@parley/protocol';
import type { Credentials } from '../../storage/types';
import { deriveCredentials } from './credentials';
import { availableChannelBindings, scramMechanism } from './scram';
import type { ChannelBindingType, SaslContext, SaslExchange, SaslMechanism } from './types';

type Hash = 'SHA-1' | 'SHA-256';
const EXPORTER = Buffer.from('exporter-keying-material-0123456');
const END_POINT = Buffer.from('certificate-hash-0123456789abcde');

function context(opts: {
  users?: Record<string, Credentials>;
  cb?: Partial<Record<ChannelBindingType, Buffer>>;
  host?: string;
}): SaslContext {
  return {
    secure: true,
    host: opts.host,
    channelBinding: (type) => opts.cb?.[type],
    getCredentials: async (username) => opts.users?.[username],
  };
}

/** A tiny SCRAM client written straight from RFC 5802 §3, independent of the server's helpers. */
function scramClient(o: {
  hash: Hash;
  username: string;
  password: string;
  authzid?: string;
  flag?: string;
  cbData?: Buffer;
  nonce?: string;
}) {
  const alg = o.hash === 'SHA-1' ? 'sha1' : 'sha256';
  const esc = (s: string) => s.replace(/=/g, '=3D').replace(/,/g, '=2C');
  const gs2 = `${o.flag ?? 'n'},${o.authzid ? `a=${esc(o.authzid)}` : ''},`;
  const bare = `n=${esc(o.username)},r=${o.nonce ?? 'clientnonce+/123'}`;
  return {
    first: Buffer.from(gs2 + bare),
    final(serverFirst: Buffer, override: { binding?: Buffer; nonce?: string } = {}) {
      const sf = serverFirst.toString();
      const attrs = Object.fromEntries(sf.split(',').map((p) => [p[0], p.slice(2)]));
      const salted = pbkdf2Sync(o.password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), alg === 'sha1' ? 20 : 32, alg);
      const hmac = (key: Buffer, data: string) => createHmac(alg, key).update(data).digest();
      const clientKey = hmac(salted, 'Client Key');
      const storedKey = createHash(alg).update(clientKey).digest();
      const binding = override.binding ?? Buffer.concat([Buffer.from(gs2), o.cbData ?? Buffer.alloc(0)]);
      const withoutProof = `c=${binding.toString('base64')},r=${override.nonce ?? attrs.r}`;
      const authMessage = `${bare},${sf},${withoutProof}`;
      const sig = hmac(storedKey, authMessage);
      const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
      const serverSig = hmac(hmac(salted, 'Server Key'), authMessage);
      return { message: Buffer.from(`${withoutProof},p=${proof.toString('base64')}`), v: `v=${serverSig.toString('base64')}` };
    },
  };
}

async function rejects(p: Promise<unknown>, condition: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SaslFailure, `expected a SaslFailure, got ${String(err)}`);
    assert.equal(err.condition, condition);
    return true;
  });
}

const users = { juliet: await deriveCredentials('r0m30myr0m30', 64), 'a,b=c': await deriveCredentials('secret', 64) };

async function login(mech: SaslMechanism, ctx: SaslContext, client: ReturnType<typeof scramClient>) {
  const ex = mech.start(ctx);
  const first = await ex.step(client.first);
  assert.equal(first.kind, 'challenge');
  const { message, v } = client.final(first.kind === 'challenge' ? first.data : Buffer.alloc(0));
  const result = await ex.step(message);
  return { result, v, ex };
}

test('RFC 5802 §5 example (SCRAM-SHA-1) as a known answer', async () => {
  const creds = await deriveCredentials('pencil', 4096, Buffer.from('QSXCR+Q6sek8bf92', 'base64'));
  const mech = scramMechanism('SHA-1', false, { nonce: () => '3rfcNHYJY1ZVvWVs7j' });
  const ex = mech.start(context({ users: { user: creds } }));
  const first = await ex.step(Buffer.from('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'));
  assert.deepEqual(first, {
    kind: 'challenge',
    data: Buffer.from('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096'),
  });
  const final = await ex.step(
    Buffer.from('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='),
  );
  assert.deepEqual(final, { kind: 'success', username: 'user', additional: Buffer.from('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=') });
});

test('RFC 7677 §3 example (SCRAM-SHA-256) as a known answer', async () => {
  const creds = await deriveCredentials('pencil', 4096, Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
  const mech = scramMechanism('SHA-256', false, { nonce: () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
  const ex = mech.start(context({ users: { user: creds } }));
  const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const first = await ex.step(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
  assert.deepEqual(first, { kind: 'challenge', data: Buffer.from(`r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`) });
  const final = await ex.step(Buffer.from(`c=biws,r=${nonce},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=`));
  assert.deepEqual(final, {
    kind: 'success',
    username: 'user',
    additional: Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='),
  });
});

test('mechanism names', () => {
  assert.equal(scramMechanism('SHA-1', false).name, 'SCRAM-SHA-1');
  assert.equal(scramMechanism('SHA-256', false).name, 'SCRAM-SHA-256');
  assert.equal(scramMechanism('SHA-1', true).name, 'SCRAM-SHA-1-PLUS');
  assert.equal(scramMechanism('SHA-256', true).name, 'SCRAM-SHA-256-PLUS');
});

for (const hash of ['SHA-1', 'SHA-256'] as const) {
  test(`SCRAM-${hash} round trip with the test client`, async () => {
    const client = scramClient({ hash, username: 'juliet', password: 'r0m30myr0m30' });
    const { result, v } = await login(scramMechanism(hash, false), context({ users }), client);
    assert.deepEqual(result, { kind: 'success', username: 'juliet', additional: Buffer.from(v) });
  });

  for (const [type, data] of [['tls-exporter', EXPORTER], ['tls-server-end-point', END_POINT]] as const) {
    test(`SCRAM-${hash}-PLUS round trip bound with ${type}`, async () => {
      const ctx = context({ users, cb: { [type]: data } });
      const client = scramClient({ hash, username: 'juliet', password: 'r0m30myr0m30', flag: `p=${type}`, cbData: data });
      const { result, v } = await login(scramMechanism(hash, true), ctx, client);
      assert.deepEqual(result, { kind: 'success', username: 'juliet', additional: Buffer.from(v) });
    });
  }
}

test('no initial response: an empty challenge first', async () => {
  const ex = scramMechanism('SHA-256', false).start(context({ users }));
  assert.deepEqual(await ex.step(null), { kind: 'challenge', data: Buffer.alloc(0) });
  const client = scramClient({ hash: 'SHA-256', username: 'juliet', password: 'r0m30myr0m30' });
  const first = await ex.step(client.first);
  assert.equal(first.kind, 'challenge');
  const result = await ex.step(client.final(first.kind === 'challenge' ? first.data : Buffer.alloc(0)).message);
  assert.equal(result.kind, 'success');
});

test('escaped and differently cased usernames are decoded and normalised', async () => {
  const mech = scramMechanism('SHA-256', false);
  const escaped = await login(mech, context({ users }), scramClient({ hash: 'SHA-256', username: 'A,B=C', password: 'secret' }));
  assert.equal(escaped.result.kind === 'success' && escaped.result.username, 'a,b=c');
  const cased = await login(mech, context({ users }), scramClient({ hash: 'SHA-256', username: 'JULIET', password: 'r0m30myr0m30' }));
  assert.equal(cased.result.kind === 'success' && cased.result.username, 'juliet');
});

test('-PLUS is available only with channel binding data; tls-exporter preferred', () => {
  const plus = scramMechanism('SHA-256', true);
  assert.equal(plus.isAvailable(context({})), false);
  assert.equal(plus.isAvailable(context({ cb: { 'tls-unique': EXPORTER } })), false);
  assert.equal(plus.isAvailable(context({ cb: { 'tls-server-end-point': END_POINT } })), true);
  assert.equal(scramMechanism('SHA-256', false).isAvailable(context({})), true);
  const both = context({ cb: { 'tls-server-end-point': END_POINT, 'tls-exporter': EXPORTER } });
  assert.deepEqual(availableChannelBindings(both), ['tls-exporter', 'tls-server-end-point']);
});

test('channel binding mismatches fail with not-authorized', async () => {
  const ctx = context({ users, cb: { 'tls-exporter': EXPORTER, 'tls-server-end-point': END_POINT } });
  const base = { hash: 'SHA-256', username: 'juliet', password: 'r0m30myr0m30' } as const;
  const plus = scramMechanism('SHA-256', true);
  const plain = scramMechanism('SHA-256', false);
  // Data of another connection (a man in the middle terminates TLS himself).
  await rejects(login(plus, ctx, scramClient({ ...base, flag: 'p=tls-exporter', cbData: END_POINT })), 'not-authorized');
  // The c= header must repeat the gs2 header sent first.
  const c = scramClient({ ...base, flag: 'p=tls-exporter', cbData: EXPORTER });
  const ex = plus.start(ctx);
  const first = await ex.step(c.first);
  const forged = c.final(first.kind === 'challenge' ? first.data : Buffer.alloc(0), { binding: Buffer.from('n,,') });
  await rejects(ex.step(forged.message), 'not-authorized');
  // Types we cannot or will not provide.
  await rejects(login(plus, ctx, scramClient({ ...base, flag: 'p=tls-unique', cbData: EXPORTER })), 'not-authorized');
  await rejects(login(plus, context({ users, cb: { 'tls-server-end-point': END_POINT } }),
    scramClient({ ...base, flag: 'p=tls-exporter', cbData: EXPORTER })), 'not-authorized');
  // -PLUS without binding, binding without -PLUS.
  await rejects(login(plus, ctx, scramClient({ ...base, flag: 'n' })), 'not-authorized');
  await rejects(login(plain, ctx, scramClient({ ...base, flag: 'p=tls-exporter', cbData: EXPORTER })), 'not-authorized');
});

test("'y' flag: a downgrade when we offer -PLUS, fine when we do not (RFC 5802 §6)", async () => {
  const client = scramClient({ hash: 'SHA-1', username: 'juliet', password: 'r0m30myr0m30', flag: 'y' });
  const mech = scramMechanism('SHA-1', false);
  await rejects(login(mech, context({ users, cb: { 'tls-exporter': EXPORTER } }), client), 'not-authorized');
  const { result } = await login(mech, context({ users }), client);
  assert.equal(result.kind, 'success');
});

test('authzid must be the own bare JID', async () => {
  const mech = scramMechanism('SHA-256', false);
  const base = { hash: 'SHA-256', username: 'juliet', password: 'r0m30myr0m30' } as const;
  const ctx = context({ users, host: 'capulet.example' });
  const ok = await login(mech, ctx, scramClient({ ...base, authzid: 'Juliet@Capulet.example' }));
  assert.equal(ok.result.kind, 'success');
  for (const authzid of ['romeo@capulet.example', 'juliet@montague.example', 'juliet@capulet.example/balcony', 'capulet.example']) {
    await rejects(login(mech, ctx, scramClient({ ...base, authzid })), 'invalid-authzid');
  }
  // A wrong password with a wrong authzid is an authentication failure first.
  await rejects(login(mech, ctx, scramClient({ ...base, password: 'x', authzid: 'romeo@capulet.example' })), 'not-authorized');
});

test('unknown user: a plausible server-first, then not-authorized', async () => {
  const mech = scramMechanism('SHA-1', false, { fakeIterations: 5000 });
  const client = scramClient({ hash: 'SHA-1', username: 'nobody', password: 'guess' });
  const serverFirst = async (m: SaslMechanism) => {
    const step = await m.start(context({ users, cb: { 'tls-exporter': EXPORTER } })).step(client.first);
    return step.kind === 'challenge' ? step.data.toString() : '';
  };
  const one = await serverFirst(mech);
  assert.match(one, /^r=clientnonce\+\/123[^,]+,s=[A-Za-z0-9+/]{22}==,i=5000$/);
  // The same salt on every attempt, as for a real user.
  assert.equal((await serverFirst(mech)).split(',')[1], one.split(',')[1]);
  await rejects(login(mech, context({ users }), client), 'not-authorized');
  await rejects(login(mech, context({ users }), scramClient({ hash: 'SHA-1', username: 'no body', password: 'x' })), 'not-authorized');
});

test('wrong password fails with not-authorized', async () => {
  const client = scramClient({ hash: 'SHA-256', username: 'juliet', password: 'wrong' });
  await rejects(login(scramMechanism('SHA-256', false), context({ users }), client), 'not-authorized');
});

test('malformed client-first messages', async () => {
  const bad = [
    'n=user,r=abc', 'x,,n=user,r=abc', 'p=tls exporter,,n=user,r=abc', 'n,b=x,n=user,r=abc', 'n,a=,n=user,r=abc',
    'n,,r=abc,n=user', 'n,,n=user', 'n,,n=,r=abc', 'n,,n=us=er,r=abc', 'n,,n=user,r=', 'n,,n=user,r=abc,',
    'n,,n=user,r=abc,extension', 'n,,m=ext,n=user,r=abc', 'n,,n=user,r=ab\u00e9',
  ];
  for (const text of bad) {
    await rejects(scramMechanism('SHA-256', false).start(context({ users })).step(Buffer.from(text)), 'malformed-request');
  }
  const ex = scramMechanism('SHA-256', false).start(context({ users }));
  await rejects(ex.step(Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c, 0x72, 0x3d, 0x61])), 'malformed-request');
  await rejects(scramMechanism('SHA-256', false).start(context({ users })).step(Buffer.alloc(0)), 'malformed-request');
  // Unknown optional extensions are ignored (RFC 5802 §5.1).
  const ok = await scramMechanism('SHA-256', false).start(context({ users })).step(Buffer.from('n,,n=juliet,r=abc,x=1'));
  assert.equal(ok.kind, 'challenge');
});

test('malformed and mismatched client-final messages', async () => {
  const client = scramClient({ hash: 'SHA-256', username: 'juliet', password: 'r0m30myr0m30' });
  const start = async (): Promise<[SaslExchange, string]> => {
    const ex = scramMechanism('SHA-256', false).start(context({ users }));
    const first = await ex.step(client.first);
    return [ex, first.kind === 'challenge' ? first.data.toString() : ''];
  };
  const nonce = (sf: string) => sf.split(',')[0]!.slice(2);
  for (const make of [
    (n: string) => `c=biws,r=${n}`,
    (n: string) => `r=${n},c=biws,p=AAAA`,
    (n: string) => `c=bi!s,r=${n},p=AAAA`,
    (n: string) => `c=biws,r=${n},p=AA`,
    (n: string) => `c=biws,r=${n},x,p=AAAA`,
  ]) {
    const [ex, sf] = await start();
    await rejects(ex.step(Buffer.from(make(nonce(sf)))), 'malformed-request');
  }
  const [ex1, sf1] = await start();
  await rejects(ex1.step(client.final(Buffer.from(sf1), { nonce: 'clientnonce+/123other' }).message), 'not-authorized');
  const [ex2, sf2] = await start();
  await rejects(ex2.step(Buffer.from(`c=biws,r=${nonce(sf2)},p=AAAA`)), 'not-authorized'); // proof of the wrong size
  const [ex3] = await start();
  await rejects(ex3.step(null), 'malformed-request');
});

test('a finished exchange accepts nothing more', async () => {
  const client = scramClient({ hash: 'SHA-256', username: 'juliet', password: 'r0m30myr0m30' });
  const { ex, result } = await login(scramMechanism('SHA-256', false), context({ users }), client);
  assert.equal(result.kind, 'success');
  await rejects(ex.step(Buffer.from('c=biws')), 'malformed-request');
});
