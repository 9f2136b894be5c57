// Review probes for RFC 6120 stream negotiation, binding and stanza handling, observed on the wire.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../testing/harness';

const BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

describe('c2s stream review (RFC 6120)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    await ts.createUser('alice');
    await ts.createUser('bob');
  });
  after(() => ts.stop());

  it('RFC 6120 §4.4: stanzas sent before the closing stream tag are processed, not dropped', async () => {
    const bob = await ts.client('bob', { resource: 'close' });
    const r = await ts.raw();
    await r.login('alice', 'secret', 'closing');
    let burst = '';
    for (let i = 0; i < 5; i++) burst += `<message to='bob@localhost/close' type='chat'><body>m${i}</body></message>`;
    r.write(burst + '</stream:stream>');
    await r.waitClosed();
    for (let i = 0; i < 5; i++) await bob.waitFor((el) => el.name === 'message' && el.getChildText('body') === `m${i}`, 2000);
  });

  it('RFC 6120 §7.7.2.1: a resource longer than 1023 bytes is bad-request, and the stream stays usable', async () => {
    const r = await ts.raw();
    r.open();
    await r.waitFor('</stream:features>');
    r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0secret').toString('base64')}</auth>`);
    await r.waitFor('<success');
    r.open();
    await r.waitFor(/<\/stream:features>[\s\S]*$/);
    r.data = '';
    r.write(`<iq type='set' id='b1'><bind xmlns='${BIND}'><resource>${'x'.repeat(1100)}</resource></bind></iq>`);
    await r.waitFor(/<iq[^>]*id='b1'[^>]*type='error'|<iq[^>]*type='error'[^>]*id='b1'/);
    assert.match(r.data, /<bad-request/);
    r.write(`<iq type='set' id='b2'><bind xmlns='${BIND}'><resource>ok</resource></bind></iq>`);
    await r.waitFor(/alice@localhost\/ok/);
    r.destroy();
  });

  it('RFC 6120 §7: a second bind on a bound stream is refused (not-allowed), not routed', async () => {
    const r = await ts.raw();
    await r.login('alice', 'secret', 'twice');
    r.write(`<iq type='set' id='b3'><bind xmlns='${BIND}'><resource>other</resource></bind></iq>`);
    await r.waitFor(/id='b3'/);
    assert.match(r.data, /type='error'/);
    assert.match(r.data, /<not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'\/>/);
    r.destroy();
  });

  it('RFC 6120 §4.7.4: the response header carries xml:lang, and §8.1.5: stanzas without one get the stream default', async () => {
    const bob = await ts.client('bob', { resource: 'lang' });
    const r = await ts.raw();
    r.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' xml:lang='de'>`);
    const header = await r.waitFor('</stream:features>');
    assert.match(header, /xml:lang='[a-zA-Z-]+'/);
    r.destroy();
    const r2 = await ts.raw();
    r2.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' xml:lang='de'>`);
    await r2.waitFor('</stream:features>');
    r2.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0secret').toString('base64')}</auth>`);
    await r2.waitFor('<success');
    r2.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' xml:lang='de'>`);
    await r2.waitFor(/<\/stream:features>$/);
    r2.write(`<iq type='set' id='bl'><bind xmlns='${BIND}'><resource>lang</resource></bind></iq>`);
    await r2.waitFor(/id='bl'/);
    r2.write(`<message to='bob@localhost/lang'><body>hallo</body></message>`);
    r2.write(`<message to='bob@localhost/lang' xml:lang='fr'><body>salut</body></message>`);
    const de = await bob.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'hallo');
    assert.equal(de.attrs['xml:lang'], 'de');
    const fr = await bob.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'salut');
    assert.equal(fr.attrs['xml:lang'], 'fr');
    r2.destroy();
  });

  it('a second stream header inside an established stream ends the stream with an error instead of hanging', async () => {
    const r = await ts.raw();
    await r.login('alice', 'secret', 'hdr2');
    r.open();
    await r.waitClosed(3000);
    assert.match(r.data, /<stream:error>/);
  });

  it('malformed stanzas get the RFC conditions and never close the stream', async () => {
    const r = await ts.raw();
    await r.login('alice', 'secret', 'bad');
    r.write(`<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`); // no id
    await r.waitFor(/<bad-request/);
    r.data = '';
    r.write(`<iq id='t1' type='bogus' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await r.waitFor(/id='t1'[\s\S]*<bad-request/);
    r.data = '';
    r.write(`<iq id='t2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`); // no type
    await r.waitFor(/id='t2'[\s\S]*<bad-request/);
    r.data = '';
    r.write(`<presence id='p1' type='bogus' to='bob@localhost'/>`);
    await r.waitFor(/id='p1'[\s\S]*<bad-request/);
    r.data = '';
    r.write(`<message id='m2' to=''><body>x</body></message>`);
    await r.waitFor(/id='m2'[\s\S]*<jid-malformed/);
    r.data = '';
    r.write(`<iq id='t3' type='set'><query xmlns='jabber:iq:roster'/><query xmlns='jabber:iq:roster'/></iq>`);
    await r.waitFor(/id='t3'[\s\S]*<bad-request/);
    r.data = '';
    r.write(`<iq type='get' id='p9' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await r.waitFor(/id='p9'/);
    assert.equal(r.closed, false);
    r.destroy();
  });
});
