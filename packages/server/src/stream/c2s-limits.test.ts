// Limits that are on by default and configurable: failed logins per IP, connections per IP, idle timeout,
// whitespace keepalives (RFC 6120 §4.6.1, §13.9.2, §13.10).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../testing/harness';

describe('c2s limits', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      rate_limit: { exempt_networks: [] },
      c2s: { auth_attempts_per_minute: 2, auth_failures_before_disconnect: 10, max_connections_per_ip: 4, idle_timeout_s: 2, whitespace_ping_s: 1 },
    } as never);
    await ts.createUser('alice');
  });
  after(() => ts.stop());

  it('sends whitespace keepalives to idle clients and closes silent ones with connection-timeout', async () => {
    const r = await ts.raw();
    await r.login('alice');
    await r.waitClosed(8000);
    // A bound session got at least one single-space keepalive before the idle timeout closed it.
    assert.match(r.data, /^ +<stream:error><connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  it('answers temporary-auth-failure once an address used up its failed attempts, even with the right password', async () => {
    const r = await ts.raw();
    r.open();
    await r.waitFor('</stream:features>');
    const wrong = Buffer.from('\0alice\0wrong').toString('base64');
    for (let i = 0; i < 2; i++) {
      r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${wrong}</auth>`);
      await r.waitFor(new RegExp(`(<not-authorized/>.*){${i + 1}}`, 's'));
    }
    await r.waitClosed();
    const again = await ts.raw();
    again.open();
    await again.waitFor('</stream:features>');
    again.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0secret').toString('base64')}</auth>`);
    await again.waitFor('<temporary-auth-failure/>');
    again.destroy();
  });

  it('refuses connections beyond the per-address limit', async () => {
    const open = await Promise.all([1, 2, 3, 4].map(() => ts.raw()));
    const extra = await ts.raw();
    await extra.waitClosed();
    assert.equal(extra.data, '');
    for (const r of open) r.destroy();
    await Promise.all(open.map((r) => r.waitClosed()));
    await new Promise((resolve) => setTimeout(resolve, 100));
  });
});
