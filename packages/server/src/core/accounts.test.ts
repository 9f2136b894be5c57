// Accounts end to end: SCRAM keys made with fewer iterations than auth.scram_iterations are re-derived at the next
// PLAIN login (the only login that shows the server the password) and keep working for SCRAM; passwords are
// OpaqueString (RFC 8265 §4.2).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../testing/harness';
import type { Credentials } from '../storage/types';
import { deriveCredentials } from '../stream/sasl/credentials';

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > end) return v;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const iterations = (c: Credentials | undefined) => [c?.['SCRAM-SHA-1'].iterations, c?.['SCRAM-SHA-256'].iterations];

describe('SCRAM keys are upgraded to auth.scram_iterations when the server learns the password', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-accounts-'));
  const storage = { backend: 'sqlite' as const };
  let ts: TestServer;

  before(async () => {
    // Accounts made under the old, lower count, in a database the upgraded server then opens.
    const old = await startTestServer({ data_dir: dataDir, storage, auth: { scram_iterations: 4096 } });
    await old.createUser('juliet', 'balcony');
    await old.createUser('romeo', 'montague');
    await old.stop();
    ts = await startTestServer({ data_dir: dataDir, storage, auth: { scram_iterations: 8192 } });
  });
  after(async () => {
    await ts.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('re-derives the keys at a PLAIN login; SCRAM logins go on working with the new keys', async () => {
    const accounts = ts.running.server.accounts;
    assert.deepEqual(iterations(await accounts.getCredentials('juliet')), [4096, 4096]);
    const r = await ts.raw();
    await r.login('juliet', 'balcony'); // SASL PLAIN
    const upgraded = await until(() => accounts.getCredentials('juliet'), (c) => iterations(c)[1] === 8192);
    assert.deepEqual(iterations(upgraded), [8192, 8192]);
    // xmpp.js authenticates with SCRAM against the new keys, and with the same password.
    const c = await ts.client('juliet', { password: 'balcony' });
    assert.equal(c.jid.split('/')[0], 'juliet@localhost');
    await assert.rejects(ts.client('juliet', { password: 'wrong' }));
  });

  it('leaves the keys alone when the login fails, and a SCRAM login cannot upgrade them', async () => {
    const accounts = ts.running.server.accounts;
    const c = await ts.client('romeo', { password: 'montague' });
    await c.stop();
    const r = await ts.raw();
    r.open();
    await r.waitFor('</stream:features>');
    r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0romeo\0capulet').toString('base64')}</auth>`);
    await r.waitFor('</failure>');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(iterations(await accounts.getCredentials('romeo')), [4096, 4096]);
  });

  it('a password change in the meantime wins over an upgrade computed from the old password', async () => {
    const accounts = ts.running.server.accounts;
    await ts.createUser('mercutio', 'queen-mab');
    const stale = (await accounts.getCredentials('mercutio'))!;
    await accounts.setPassword('mercutio', 'plague');
    const weak = { ...stale, 'SCRAM-SHA-256': { ...stale['SCRAM-SHA-256'], iterations: 1 } };
    assert.equal(await accounts.upgradeCredentials('mercutio', 'queen-mab', weak), false);
    const c = await ts.client('mercutio', { password: 'plague' });
    assert.equal(c.jid.split('/')[0], 'mercutio@localhost');
  });
});

describe('accounts named under the looser rules of earlier versions', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
  });
  after(() => ts.stop());

  it('cannot log in under a look-alike name, and can still be deleted by an administrator', async () => {
    const { storage, accounts } = ts.running.server;
    const legacy = 'alice\u200b';
    await storage.accounts.create('localhost', legacy, await deriveCredentials('secret', 4096));
    assert.throws(() => accounts.normalize(legacy));
    await assert.rejects(ts.client(legacy));
    await accounts.delete(legacy);
    assert.equal(await storage.accounts.get('localhost', legacy), undefined);
    await assert.rejects(accounts.delete('bob\u200b'), /invalid username/);
  });
});

describe('passwords are OpaqueString (RFC 8265 §4.2)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ registration: { mode: 'open' } });
  });
  after(() => ts.stop());

  it('in-band registration refuses a password with invisible characters with not-acceptable (XEP-0077 §3.1)', async () => {
    for (const [i, password] of ['pass\u200bword', 'pass\u00adword', '\uff50\uff41\uff53\uff53'].entries()) {
      const r = await ts.raw();
      r.open();
      await r.waitFor('</stream:features>');
      r.write(`<iq type='set' id='p${i}'><query xmlns='jabber:iq:register'><username>pw${i}</username><password>${password}</password></query></iq>`);
      const data = await r.waitFor(new RegExp(`id='p${i}'[\\s\\S]*</iq>`));
      assert.match(data, /<not-acceptable/, JSON.stringify(password));
      assert.equal(await ts.running.server.accounts.exists(`pw${i}`), false);
    }
  });
});
