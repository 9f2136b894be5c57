// Certificate validation between Parley servers (RFC 6125 names as RFC 6120 §13.7.1.2 and XEP-0178 use them), with
// certificates from a throw-away CA that every server trusts (s2s.ca_file):
//   a.test  id-on-xmppAddr only (a.test)                    auth any
//   b.test  SRV-ID _xmpp-server.b.test and DNS-ID *.b.test  auth any
//   c.test  a valid certificate for the wrong name          auth any
//   e.test  DNS-IDs e.test and *.e.test                     auth external (no dialback)
// A name that validates gets SASL EXTERNAL; a wrong one falls back to dialback, or is refused under s2s.auth external.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../testing/harness';
import { createTestCa, hasOpenssl, type TestCa } from '../testing/test-ca';
import { freePort } from '../testing/s2s';

const byBody = (body: string) => (el: { name: string; getChildText(n: string): string | undefined }) => el.name === 'message' && el.getChildText('body') === body;

describe('peer certificates: xmppAddr, SRV-ID, DNS-ID, wrong names', { skip: hasOpenssl() ? false : 'the openssl command is not installed' }, () => {
  let ca: TestCa;
  const servers: Record<string, TestServer> = {};
  before(async () => {
    ca = createTestCa();
    const names: Record<string, { names: string[]; auth: string }> = {
      'a.test': { names: ['xmpp:a.test'], auth: 'any' },
      'b.test': { names: ['srv:_xmpp-server.b.test', 'dns:*.b.test'], auth: 'any' },
      'c.test': { names: ['dns:evil.test'], auth: 'any' },
      'e.test': { names: ['dns:e.test', 'dns:*.e.test'], auth: 'external' },
    };
    const ports: Record<string, number> = {};
    for (const domain of Object.keys(names)) ports[domain] = await freePort();
    const routes: Record<string, string> = {};
    for (const [domain, port] of Object.entries(ports)) {
      routes[domain] = `127.0.0.1:${port}`;
      routes[`conference.${domain}`] = `127.0.0.1:${port}`;
    }
    for (const [domain, { names: ids, auth }] of Object.entries(names)) {
      // The CN names no domain: only the subjectAltName identifiers can make a certificate valid.
      const cert = ca.issue(domain, { names: ids, cn: `Parley test server ${domain[0]}` });
      servers[domain] = await startTestServer({
        domain,
        tls: cert,
        s2s: { port: ports[domain], auth, ca_file: ca.caFile, static_routes: routes },
      } as never);
    }
    for (const [domain, server] of Object.entries(servers)) await server.createUser(domain[0]!);
  });
  after(async () => {
    for (const server of Object.values(servers)) await server.stop();
    ca?.remove();
  });
  const incomingAuth = (at: string, from: string) =>
    servers[at]!.running.server.s2s!.incomingStreams().flatMap((s) => (s.auth[from] !== undefined ? [s.auth[from]] : []));

  it('authenticates an xmppAddr-only certificate and an SRV-ID certificate by SASL EXTERNAL', async () => {
    const a = await servers['a.test']!.client('a');
    const b = await servers['b.test']!.client('b');
    await a.send(`<message to='b@b.test' type='chat'><body>xmppAddr speaks</body></message>`);
    await b.waitFor(byBody('xmppAddr speaks'));
    await b.send(`<message to='a@a.test' type='chat'><body>SRV-ID answers</body></message>`);
    await a.waitFor(byBody('SRV-ID answers'));
    assert.deepEqual(incomingAuth('b.test', 'a.test'), ['EXTERNAL']);
    assert.deepEqual(incomingAuth('a.test', 'b.test'), ['EXTERNAL']);
  });

  it('falls back to dialback for a valid certificate with the wrong name', async () => {
    const c = await servers['c.test']!.client('c');
    const b = await servers['b.test']!.client('b');
    await c.send(`<message to='b@b.test' type='chat'><body>wrong name, right key</body></message>`);
    await b.waitFor(byBody('wrong name, right key'));
    assert.deepEqual(incomingAuth('b.test', 'c.test'), ['dialback']);
  });

  it('refuses the wrong name under s2s.auth external, whichever side holds it', async () => {
    const c = await servers['c.test']!.client('c');
    await c.send(`<message to='e@e.test' id='to-e'><body>let me in</body></message>`);
    const bounced = await c.waitFor((el) => el.attrs.id === 'to-e' && el.attrs.type === 'error', 20_000);
    assert.ok(bounced.getChild('error')?.getChild('remote-server-not-found'), bounced.toString());
    const e = await servers['e.test']!.client('e');
    await e.send(`<message to='c@c.test' id='to-c'><body>are you c?</body></message>`);
    const refused = await e.waitFor((el) => el.attrs.id === 'to-c' && el.attrs.type === 'error', 20_000);
    assert.ok(refused.getChild('error')?.getChild('remote-server-not-found'), refused.toString());
    assert.deepEqual(incomingAuth('e.test', 'c.test'), []);
  });

  it('covers a service sub-domain with a DNS-ID wildcard (each domain on its own EXTERNAL stream)', async () => {
    const a = await servers['a.test']!.client('a');
    // A room of conference.e.test: its presence comes to a.test on a stream of conference.e.test's own, whose
    // certificate names it only through '*.e.test'.
    await a.send(`<presence to='hall@conference.e.test/a'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    const self = await a.waitFor((el) => el.name === 'presence' && el.attrs.from === 'hall@conference.e.test/a');
    assert.equal(self.attrs.type, undefined, self.toString());
    assert.deepEqual(incomingAuth('a.test', 'conference.e.test'), ['EXTERNAL']);
    assert.deepEqual(incomingAuth('e.test', 'a.test'), ['EXTERNAL']);
  });
});
