// Audit log lines as an operator's tools read them: JSON lines from a real server, matched with the fail2ban
// pattern documented in docs/LOGGING.md (read from the file, so the documentation cannot drift from the format).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { startTestServer, type TestServer } from '../testing/harness';
import { createLogger } from '../log';

const doc = readFileSync(new URL('../../../../docs/LOGGING.md', import.meta.url), 'utf8');
const failregex = /^failregex = (.+)$/m.exec(doc)![1]!;
// fail2ban's <HOST> is an IPv4 or IPv6 address (or host name); the test server listens on 127.0.0.1.
const FAIL = new RegExp(failregex.replace('<HOST>', '(?<host>[0-9A-Fa-f.:]+)'));

describe('audit log', () => {
  let ts: TestServer;
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  before(async () => {
    ts = await startTestServer({}, { log: createLogger('info', 'parley', { format: 'json', destination: sink }) });
    await ts.createUser('alice', 'right');
  });
  after(() => ts.stop());
  const events = (event: string) => lines.filter((l) => l.event === event);

  it('logs a failed login with JID, mechanism and IP in a line the fail2ban pattern matches', async () => {
    const r = await ts.raw();
    r.open();
    await r.waitFor('</stream:features>');
    r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0wrong').toString('base64')}</auth>`);
    await r.waitFor('<not-authorized/>');
    // A forged identity cannot make the pattern pick another address.
    r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0x from 6.6.6.6 mechanism PLAIN\0pw').toString('base64')}</auth>`);
    await r.waitFor(/<not-authorized\/>[\s\S]*<not-authorized\/>/);
    r.destroy();
    const failed = events('auth-failed');
    assert.equal(failed.length, 2);
    assert.equal(failed[0]!.level, 'info');
    assert.match(String(failed[0]!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(failed[0]!.jid, 'alice@localhost');
    assert.equal(failed[0]!.mechanism, 'PLAIN');
    assert.equal(failed[0]!.ip, '127.0.0.1');
    for (const f of failed) assert.equal(FAIL.exec(String(f.msg))?.groups?.host, '127.0.0.1', String(f.msg));
    assert.ok(!JSON.stringify(lines).includes('wrong'), 'the password is not logged');
  });

  it('logs a successful login (SCRAM with xmpp.js) and the connection, which the pattern does not match', async () => {
    const c = await ts.client('alice', { password: 'right' });
    await c.stop();
    const ok = events('auth-succeeded').at(-1)!;
    assert.equal(ok.jid, 'alice@localhost');
    assert.match(String(ok.mechanism), /^SCRAM-SHA-/);
    assert.match(String(ok.msg), /^authentication succeeded for alice@localhost from 127\.0\.0\.1 mechanism SCRAM-SHA-/);
    assert.equal(FAIL.test(String(ok.msg)), false);
    assert.ok(events('connection-accepted').some((l) => l.ip === '127.0.0.1' && /^connection accepted from 127\.0\.0\.1 \(c2s\)$/.test(String(l.msg))));
    for (let i = 0; i < 50 && events('connection-closed').length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(events('connection-closed').length >= 2);
    assert.ok(!JSON.stringify(lines).includes('right'), 'the password is not logged');
  });

  it('logs account creation and password changes without the password', async () => {
    await ts.running.server.accounts.create('dave', 'hunter2');
    await ts.running.server.accounts.setPassword('dave', 'hunter3');
    assert.ok(events('account-created').some((l) => l.msg === 'account created: dave@localhost'));
    assert.ok(events('password-changed').some((l) => l.msg === 'password changed for dave@localhost'));
    assert.ok(!JSON.stringify(lines).includes('hunter'));
  });
});
