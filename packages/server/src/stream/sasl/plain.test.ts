import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SaslFailure } from '@parley/protocol';
import type { Credentials } from '../../storage/types';
import { deriveCredentials } from './credentials';
import { plainMechanism } from './plain';
import type { SaslContext } from './types';

const users: Record<string, Credentials> = { juliet: await deriveCredentials('r0m30myr0m30', 64) };

function context(opts: { secure?: boolean; host?: string } = {}): SaslContext {
  return {
    secure: opts.secure ?? true,
    host: opts.host,
    channelBinding: () => undefined,
    getCredentials: async (username) => users[username],
  };
}

const mech = plainMechanism({ allowInsecure: false, fakeIterations: 64 });
const auth = (text: string | Buffer, ctx = context()) =>
  mech.start(ctx).step(typeof text === 'string' ? Buffer.from(text) : text);

async function rejects(p: Promise<unknown>, condition: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SaslFailure, `expected a SaslFailure, got ${String(err)}`);
    assert.equal(err.condition, condition);
    return true;
  });
}

test('offered only over TLS unless allowed', () => {
  assert.equal(mech.name, 'PLAIN');
  assert.equal(mech.isAvailable(context({ secure: true })), true);
  assert.equal(mech.isAvailable(context({ secure: false })), false);
  assert.equal(plainMechanism({ allowInsecure: true }).isAvailable(context({ secure: false })), true);
});

test('correct password, with and without authzid, username normalised', async () => {
  assert.deepEqual(await auth('\0juliet\0r0m30myr0m30'), { kind: 'success', username: 'juliet' });
  assert.deepEqual(await auth('\0JULIET\0r0m30myr0m30'), { kind: 'success', username: 'juliet' });
  const ctx = context({ host: 'capulet.example' });
  assert.deepEqual(await auth('juliet@capulet.example\0juliet\0r0m30myr0m30', ctx), { kind: 'success', username: 'juliet' });
});

test('no initial response: an empty challenge, then the credentials', async () => {
  const ex = mech.start(context());
  assert.deepEqual(await ex.step(null), { kind: 'challenge', data: Buffer.alloc(0) });
  assert.deepEqual(await ex.step(Buffer.from('\0juliet\0r0m30myr0m30')), { kind: 'success', username: 'juliet' });
  await rejects(ex.step(Buffer.from('\0juliet\0r0m30myr0m30')), 'malformed-request');
});

test('wrong password, unknown user and impossible usernames fail alike', async () => {
  await rejects(auth('\0juliet\0wrong'), 'not-authorized');
  await rejects(auth('\0romeo\0r0m30myr0m30'), 'not-authorized');
  await rejects(auth('\0jul iet\0r0m30myr0m30'), 'not-authorized');
  await rejects(auth('\0juliet@capulet.example\0r0m30myr0m30'), 'not-authorized');
  await rejects(auth('\0juliet\0r0m30\u0007'), 'not-authorized');
});

test('authzid of someone else fails with invalid-authzid', async () => {
  const ctx = context({ host: 'capulet.example' });
  await rejects(auth('romeo@capulet.example\0juliet\0r0m30myr0m30', ctx), 'invalid-authzid');
  await rejects(auth('juliet@montague.example\0juliet\0r0m30myr0m30', ctx), 'invalid-authzid');
  await rejects(auth('juliet@capulet.example/balcony\0juliet\0r0m30myr0m30', ctx), 'invalid-authzid');
  await rejects(auth('not a jid\0juliet\0r0m30myr0m30', ctx), 'invalid-authzid');
});

test('malformed messages', async () => {
  for (const text of ['juliet\0r0m30myr0m30', '\0juliet\0r0m30\0extra', '\0\0r0m30myr0m30', '\0juliet\0', '']) {
    await rejects(auth(text), 'malformed-request');
  }
  await rejects(auth(Buffer.from([0, 0x6a, 0, 0xc3, 0x28])), 'malformed-request');
});
