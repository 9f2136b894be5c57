// XEP-0386 Bind 2 on the wire: binding inside SASL2's <authenticate/>, resources stable per user-agent, the
// session established as by RFC 6120 binding, carbons enabled inline, and malformed requests.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Jid } from '@parley/protocol';
import type { Session } from '../../core/sessions';
import { startTestServer, type RawClient, type TestServer } from '../../testing/harness';
import { BIND2, SASL2, authenticate, openStream, plain, textOf } from '../../testing/sasl2';

const CARBONS = 'urn:xmpp:carbons:2';

/** Authenticates with PLAIN and Bind 2; resolves with the bound full JID. */
async function bindWith(r: RawClient, user: string, opts: { id?: string; tag?: string; inner?: string } = {}): Promise<string> {
  await openStream(r);
  const bind = `${opts.tag === undefined ? '' : `<tag>${opts.tag}</tag>`}${opts.inner ?? ''}`;
  r.write(authenticate('PLAIN', { initial: plain(user), userAgent: opts.id === undefined ? undefined : { id: opts.id }, bind }));
  const data = await r.waitFor('</stream:features>');
  r.data = '';
  const jid = textOf(data, 'authorization-identifier');
  assert.ok(jid, data);
  return jid;
}

describe('Bind 2 (XEP-0386)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('binds during authentication: a full JID in <success/>, <bound/>, and no resource binding offered after', async () => {
    const bound: Session[] = [];
    const hook = ts.running.server.hooks.on('session/bound', ({ session }) => {
      bound.push(session);
    });
    try {
      const r = await ts.raw();
      await openStream(r);
      r.write(authenticate('PLAIN', { initial: plain('alice'), userAgent: { id: 'ua-1' }, bind: '<tag>AwesomeXMPP</tag>' }));
      const data = await r.waitFor('</stream:features>');
      const m = /^<success xmlns='urn:xmpp:sasl:2'><authorization-identifier>(alice@localhost\/AwesomeXMPP\.[0-9a-f]{8})<\/authorization-identifier><bound xmlns='urn:xmpp:bind:0'\/><\/success><stream:features>(.*)<\/stream:features>$/.exec(data);
      assert.ok(m, data);
      assert.doesNotMatch(m[2]!, /xmpp-bind|xmpp-session/);
      // RFC 6120 §7 established: in the session table, session/bound fired, stanzas flow.
      const session = ts.running.server.sessions.get(Jid.parse(m[1]!));
      assert.ok(session);
      assert.deepEqual(bound.map((s) => s.jid.toString()), [m[1]]);
      r.data = '';
      r.write(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await r.waitFor(/<iq [^>]*type='result'[^>]*id='p1'|<iq [^>]*id='p1'[^>]*type='result'/);
      r.destroy();
    } finally {
      hook.dispose();
    }
  });

  it('gives one client installation the same resource every time, and each installation its own', async () => {
    const first = await ts.raw();
    const a1 = await bindWith(first, 'bob', { id: 'phone-1', tag: 'Chat' });
    first.destroy();
    await first.waitClosed();
    const again = await ts.raw();
    assert.equal(await bindWith(again, 'bob', { id: 'phone-1', tag: 'Chat' }), a1);
    const other = await ts.raw();
    const b = await bindWith(other, 'bob', { id: 'laptop-1', tag: 'Chat' });
    assert.notEqual(b, a1);
    assert.match(b, /^bob@localhost\/Chat\.[0-9a-f]{8}$/);
    again.destroy();
    other.destroy();
  });

  it('replaces the stale session of the same installation with <conflict/> (RFC 6120 §7.7.2.2)', async () => {
    const old = await ts.raw();
    const jid = await bindWith(old, 'carol', { id: 'tablet', tag: 'T' });
    const fresh = await ts.raw();
    assert.equal(await bindWith(fresh, 'carol', { id: 'tablet', tag: 'T' }), jid);
    await old.waitClosed();
    assert.match(old.data, /<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    fresh.destroy();
  });

  it('picks an unused random resource for a client without a user-agent id, with or without a tag', async () => {
    const r1 = await ts.raw();
    const r2 = await ts.raw();
    const r3 = await ts.raw();
    const j1 = await bindWith(r1, 'alice', { tag: 'NoId' });
    const j2 = await bindWith(r2, 'alice', { tag: 'NoId' });
    const j3 = await bindWith(r3, 'alice');
    assert.match(j1, /^alice@localhost\/NoId\.[0-9a-f]{8}$/);
    assert.notEqual(j1, j2);
    assert.match(j3, /^alice@localhost\/[0-9a-f]{8}$/);
    for (const r of [r1, r2, r3]) r.destroy();
  });

  it('enables carbons for the new session when <bind/> carries <enable xmlns=urn:xmpp:carbons:2/>', async () => {
    const withCarbons = await ts.raw();
    const withoutCarbons = await ts.raw();
    const target = await ts.raw();
    await bindWith(withCarbons, 'alice', { id: 'c-on', inner: `<enable xmlns='${CARBONS}'/>` });
    const plainJid = await bindWith(withoutCarbons, 'alice', { id: 'c-off' });
    const targetJid = await bindWith(target, 'alice', { id: 'c-target' });
    const bob = await ts.client('bob');
    await bob.send(`<message to='${targetJid}' type='chat' id='m1'><body>for the target</body></message>`);
    await target.waitFor('for the target');
    await withCarbons.waitFor(/<received xmlns='urn:xmpp:carbons:2'><forwarded [^>]*>.*for the target/);
    // The session without carbons gets a later message directly, and nothing before it.
    await bob.send(`<message to='${plainJid}' type='chat' id='m2'><body>direct</body></message>`);
    await withoutCarbons.waitFor('direct');
    assert.doesNotMatch(withoutCarbons.data, /for the target|urn:xmpp:carbons:2/);
    for (const r of [withCarbons, withoutCarbons, target]) r.destroy();
  });

  it('refuses a malformed <bind/> before authenticating', async () => {
    const cases: [string, string][] = [
      [`<bind xmlns='${BIND2}'/><bind xmlns='${BIND2}'/>`, 'Bind 2 takes one &lt;bind/&gt; element'],
      [`<bind xmlns='${BIND2}'><tag>${'t'.repeat(65)}</tag></bind>`, 'the Bind 2 tag is longer than 64 characters'],
    ];
    for (const [extra, text] of cases) {
      const r = await ts.raw();
      await openStream(r);
      r.write(authenticate('PLAIN', { initial: plain('alice'), userAgent: { id: 'bad' }, extra }));
      await r.waitFor(`<failure xmlns='${SASL2}'><malformed-request xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><text xml:lang='en'>${text}</text></failure>`);
      r.destroy();
    }
  });

  it('binds xmpp.js clients: the resource they ask for becomes the tag of the one they get', async () => {
    const c = await ts.client('bob', { resource: 'js' });
    assert.match(c.jid, /^bob@localhost\/js\.[0-9a-f]{8}$/);
    const pong = await c.iq(`<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(pong.attrs.type, 'result');
  });
});

describe('Bind 2 disabled (modules.disabled: [bind2])', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ modules: { disabled: ['bind2'] } } as never);
    await ts.createUser('alice');
  });
  after(() => ts.stop());

  it('is not advertised, and SASL2 leaves resource binding to RFC 6120', async () => {
    const r = await ts.raw();
    const features = await openStream(r);
    assert.doesNotMatch(features, /urn:xmpp:bind:0/);
    r.write(authenticate('PLAIN', { initial: plain('alice'), bind: '<tag>x</tag>' }));
    const data = await r.waitFor('</stream:features>');
    assert.equal(textOf(data, 'authorization-identifier'), 'alice@localhost');
    assert.match(data, /<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'\/>/);
    r.destroy();
  });

  it('lets xmpp.js fall back to RFC 6120 binding after SASL2', async () => {
    const c = await ts.client('alice', { resource: 'legacy' });
    assert.equal(c.jid, 'alice@localhost/legacy');
  });
});
