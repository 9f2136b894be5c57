// XEP-0388 SASL2 on the wire: the feature, success without a stream restart, challenges, failures and their
// limits, aborts, malformed requests; and the classic profile when the sasl2 module is disabled.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { client as xmppClient } from '@xmpp/client';
import { startTestServer, RawClient, type TestServer } from '../testing/harness';
import { SASL2, ScramSha256Client, authenticate, expectAnswersOnFreshStreams, openStream, plain, textOf } from '../testing/sasl2';

const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const failure = (condition: string) => `<failure xmlns='${SASL2}'><${condition} xmlns='${SASL}'/>`;

describe('SASL2 (XEP-0388)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    await ts.createUser('alice');
  });
  after(() => ts.stop());

  it('offers <authentication/> with the classic mechanisms and the inline features (§2.1)', async () => {
    const r = await ts.raw();
    const features = await openStream(r);
    const classic = [...features.matchAll(/<mechanisms [^>]*>(.*?)<\/mechanisms>/g)][0]![1];
    const sasl2 = /<authentication xmlns='urn:xmpp:sasl:2'>(.*?)<\/authentication>/.exec(features)?.[1];
    assert.ok(sasl2, features);
    assert.equal(sasl2.slice(0, classic!.length), classic);
    // Bind 2 lists the session features modules registered (carbons here; stream management too, when loaded).
    assert.match(sasl2, /<inline>.*<bind xmlns='urn:xmpp:bind:0'><inline>(<feature var='[^']+'\/>)*<feature var='urn:xmpp:carbons:2'\/>/);
    assert.match(sasl2, /<fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-NONE<\/mechanism><\/fast>/);
    r.destroy();
  });

  it('authenticates with PLAIN and sends the features right after <success/>, without a stream restart (§2.6.1)', async () => {
    const r = await ts.raw();
    await openStream(r);
    r.write(authenticate('PLAIN', { initial: plain('alice'), userAgent: { id: 'ua-plain', software: 'test', device: 'desk' } }));
    const data = await r.waitFor('</stream:features>');
    assert.ok(
      data.startsWith(
        `<success xmlns='${SASL2}'><authorization-identifier>alice@localhost</authorization-identifier></success>` +
          `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>`,
      ),
      data,
    );
    assert.doesNotMatch(data, /<stream:stream/);
    r.data = '';
    // Still the same stream: resource binding follows at once.
    r.write(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desk</resource></bind></iq>`);
    await r.waitFor(`<jid>alice@localhost/desk</jid>`);
    r.destroy();
  });

  it('prompts a mechanism started without an initial response with an empty challenge (§2.2)', async () => {
    const r = await ts.raw();
    await openStream(r);
    r.write(authenticate('PLAIN'));
    await r.waitFor(`<challenge xmlns='${SASL2}'/>`);
    r.data = '';
    r.write(`<response xmlns='${SASL2}'>${plain('alice')}</response>`);
    await r.waitFor('<authorization-identifier>alice@localhost</authorization-identifier>');
    r.destroy();
  });

  it('runs SCRAM-SHA-256 through <challenge/> and <response/> and returns the server signature as additional data', async () => {
    const r = await ts.raw();
    await openStream(r);
    const scram = new ScramSha256Client('alice');
    r.write(authenticate('SCRAM-SHA-256', { initial: scram.first() }));
    const challenge = textOf(await r.waitFor('</challenge>'), 'challenge')!;
    r.data = '';
    r.write(`<response xmlns='${SASL2}'>${scram.final(challenge)}</response>`);
    const success = await r.waitFor('</success>');
    assert.equal(Buffer.from(textOf(success, 'additional-data')!, 'base64').toString(), scram.expectedFinal());
    assert.equal(textOf(success, 'authorization-identifier'), 'alice@localhost');
    r.destroy();
  });

  it('fails a wrong password with not-authorized and closes after repeated failures, counted with the classic profile', async () => {
    const r = await ts.raw();
    await openStream(r);
    r.write(authenticate('PLAIN', { initial: plain('alice', 'wrong') }));
    await r.waitFor(`${failure('not-authorized')}</failure>`);
    // Failures of both profiles add up (c2s.auth_failures_before_disconnect is 3).
    r.write(`<auth xmlns='${SASL}' mechanism='PLAIN'>${plain('alice', 'wrong')}</auth>`);
    r.write(authenticate('PLAIN', { initial: plain('alice', 'wrong') }));
    await r.waitClosed();
    assert.match(r.data, /<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  it('answers malformed requests with the precise condition and keeps the stream', async () => {
    const cases: [string, string][] = [
      [authenticate('X-NOPE', { initial: plain('alice') }), failure('invalid-mechanism')],
      [`<authenticate xmlns='${SASL2}'><initial-response>${plain('alice')}</initial-response></authenticate>`, failure('malformed-request')],
      [authenticate('PLAIN', { initial: '!!not base64' }), failure('incorrect-encoding')],
      [authenticate('HT-SHA-256-NONE', { initial: plain('alice') }), failure('invalid-mechanism')],
      [`<response xmlns='${SASL2}'>AAAA</response>`, `<text xml:lang='en'>no authentication in progress</text></failure>`],
      [`<success xmlns='${SASL2}'/>`, `<text xml:lang='en'>&lt;success/&gt; is not a SASL2 request</text></failure>`],
    ];
    // Each is a failed attempt, and a stream gets three: one stream per case.
    await expectAnswersOnFreshStreams(() => ts.raw(), cases);
  });

  it('refuses an oversized user-agent id before authenticating', async () => {
    const r = await ts.raw();
    await openStream(r);
    r.write(authenticate('PLAIN', { initial: plain('alice'), userAgent: { id: 'x'.repeat(257) } }));
    await r.waitFor(/<malformed-request [^>]*\/><text xml:lang='en'>the user-agent id must have 1 to 256 characters<\/text>/);
    r.destroy();
  });

  it('ends an attempt on <abort/> without counting it as a failure (§4.5)', async () => {
    const r = await ts.raw();
    await openStream(r);
    for (let i = 0; i < 4; i++) {
      r.data = '';
      r.write(authenticate('SCRAM-SHA-256'));
      await r.waitFor(`<challenge xmlns='${SASL2}'/>`);
      r.write(`<abort xmlns='${SASL2}'/>`);
      await r.waitFor(`${failure('aborted')}</failure>`);
    }
    assert.equal(r.closed, false);
    r.data = '';
    r.write(authenticate('PLAIN', { initial: plain('alice') }));
    await r.waitFor('<authorization-identifier>alice@localhost</authorization-identifier>');
    r.destroy();
  });

  it('closes the stream when anything but <response/> or <abort/> comes during an exchange (§2.4)', async () => {
    const r = await ts.raw();
    await openStream(r);
    r.write(authenticate('SCRAM-SHA-256'));
    await r.waitFor(`<challenge xmlns='${SASL2}'/>`);
    r.write(`<iq type='get' id='x'><query xmlns='jabber:iq:version'/></iq>`);
    await r.waitClosed();
    assert.match(r.data, /<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  it('does not authenticate a stream twice (§4.8)', async () => {
    const r = await ts.raw();
    await openStream(r);
    r.write(authenticate('PLAIN', { initial: plain('alice') }));
    await r.waitFor('</stream:features>');
    r.write(authenticate('PLAIN', { initial: plain('alice') }));
    await r.waitClosed();
    assert.match(r.data, /<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  it('keeps the TLS policy of the classic profile: nothing before TLS when TLS is required', async () => {
    const strict = await startTestServer({ c2s: { allow_plaintext_auth: false } } as never);
    try {
      const r = await RawClient.connect(strict.port);
      const features = await openStream(r);
      assert.doesNotMatch(features, /urn:xmpp:sasl:2/);
      r.write(authenticate('PLAIN', { initial: plain('alice') }));
      await r.waitFor(`${failure('encryption-required')}</failure>`);
      r.destroy();
    } finally {
      await strict.stop();
    }
  });
});

describe('SASL2 disabled (modules.disabled: [sasl2])', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ modules: { disabled: ['sasl2'] } } as never);
    await ts.createUser('alice');
  });
  after(() => ts.stop());

  it('offers the classic profile only and refuses SASL2 requests', async () => {
    const r = await ts.raw();
    const features = await openStream(r);
    assert.doesNotMatch(features, /urn:xmpp:sasl:2|urn:xmpp:bind:0|urn:xmpp:fast:0/);
    r.write(authenticate('PLAIN', { initial: plain('alice') }));
    await r.waitClosed();
    assert.match(r.data, /<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  it('lets xmpp.js log in through the classic profile and bind the resource it asks for', async () => {
    const c = await ts.client('alice', { resource: 'classic' });
    assert.equal(c.jid, 'alice@localhost/classic');
    const pong = await c.iq(`<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(pong.attrs.type, 'result');
  });

  it('does the same with an xmpp.js client that was given no resource', async () => {
    const xmpp = xmppClient({ service: `xmpp://127.0.0.1:${ts.port}`, domain: 'localhost', username: 'alice', password: 'secret' });
    xmpp.on('error', () => {});
    const address = await xmpp.start();
    assert.match(address.toString(), /^alice@localhost\/.+/);
    await xmpp.stop();
  });
});
