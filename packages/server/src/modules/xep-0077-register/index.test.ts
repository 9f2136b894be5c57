// XEP-0077 end to end: registration before authentication over a raw stream (xmpp.js does not register),
// password change and cancellation with xmpp.js clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseXml, type XmlElement } from '@parley/protocol';
import { startTestServer, type RawClient, type TestServer } from '../../testing/harness';

const REGISTER = 'jabber:iq:register';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** Sends an iq on a raw stream and resolves with the reply carrying its id. */
async function rawIq(r: RawClient, id: string, iq: string): Promise<XmlElement> {
  const pattern = new RegExp(`<iq[^>]*\\bid='${id}'(?:[^>]*/>|[\\s\\S]*?</iq>)`);
  r.write(iq);
  const data = await r.waitFor(pattern);
  return parseXml(data.match(pattern)![0]);
}

async function openStream(ts: TestServer): Promise<{ r: RawClient; features: string }> {
  const r = await ts.raw();
  r.open();
  const features = await r.waitFor('</stream:features>');
  return { r, features };
}

const registerIq = (id: string, username: string, password: string) =>
  `<iq type='set' id='${id}'><query xmlns='${REGISTER}'><username>${username}</username><password>${password}</password></query></iq>`;

function condition(el: XmlElement): string | undefined {
  return el.getChild('error')?.elements().find((c) => c.attrs.xmlns === STANZAS && c.name !== 'text')?.name;
}

describe('XEP-0077 registration before authentication (open)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ registration: { mode: 'open', per_ip_per_hour: 1 } });
    await ts.createUser('taken');
  });
  after(() => ts.stop());

  it('advertises the stream feature and returns the fields with an equivalent form (§3.1, §8)', async () => {
    const { r, features } = await openStream(ts);
    assert.match(features, /<register xmlns='http:\/\/jabber.org\/features\/iq-register'\/>/);
    const reply = await rawIq(r, 'g1', `<iq type='get' id='g1'><query xmlns='${REGISTER}'/></iq>`);
    assert.equal(reply.attrs.type, 'result');
    const query = reply.getChild('query', REGISTER)!;
    assert.ok(query.getChild('username') && query.getChild('password') && query.getChild('instructions'));
    const form = query.getChild('x', 'jabber:x:data')!;
    assert.equal(form.attrs.type, 'form');
    assert.deepEqual(
      form.getChildren('field').map((f) => f.attrs.var),
      ['FORM_TYPE', 'username', 'password'],
    );
  });

  it('creates the account, which can then log in; a second account on the same stream is refused (§3.1.1)', async () => {
    const { r } = await openStream(ts);
    const ok = await rawIq(r, 's1', registerIq('s1', 'Newbie', 'p4ss'));
    assert.equal(ok.attrs.type, 'result');
    assert.equal(ok.children.length, 0);
    assert.equal(await ts.running.server.accounts.exists('newbie'), true); // the username is normalised
    const again = await rawIq(r, 's2', registerIq('s2', 'other', 'p4ss'));
    assert.equal(condition(again), 'not-acceptable');
    const c = await ts.client('newbie', { password: 'p4ss' });
    assert.equal(c.jid.split('/')[0], 'newbie@localhost');
  });

  it('accepts a submitted data form (§4)', async () => {
    const { r } = await openStream(ts);
    const reply = await rawIq(
      r,
      'f1',
      `<iq type='set' id='f1'><query xmlns='${REGISTER}'><x xmlns='jabber:x:data' type='submit'>` +
        `<field var='FORM_TYPE'><value>${REGISTER}</value></field>` +
        `<field var='username'><value>formuser</value></field><field var='password'><value>pw</value></field>` +
        `</x></query></iq>`,
    );
    assert.equal(reply.attrs.type, 'result');
    assert.equal(await ts.running.server.accounts.exists('formuser'), true);
  });

  it('answers conflict, not-acceptable and jid-malformed, without echoing the password (§3.1)', async () => {
    const { r } = await openStream(ts);
    const conflict = await rawIq(r, 'e1', registerIq('e1', 'taken', 'secret-pw'));
    assert.equal(conflict.attrs.type, 'error');
    assert.equal(condition(conflict), 'conflict');
    assert.equal(conflict.getChild('error')!.attrs.type, 'cancel');
    assert.doesNotMatch(conflict.toString(), /secret-pw/);
    // An empty <password/> counts as not provided (§3.1 note).
    const empty = await rawIq(r, 'e2', `<iq type='set' id='e2'><query xmlns='${REGISTER}'><username>x1</username><password/></query></iq>`);
    assert.equal(condition(empty), 'not-acceptable');
    const missing = await rawIq(r, 'e3', `<iq type='set' id='e3'><query xmlns='${REGISTER}'><password>pw</password></query></iq>`);
    assert.equal(condition(missing), 'not-acceptable');
    const malformed = await rawIq(r, 'e4', registerIq('e4', 'a:b', 'pw'));
    assert.equal(condition(malformed), 'jid-malformed');
    // Cancelling before authenticating (§3.2 table).
    const remove = await rawIq(r, 'e5', `<iq type='set' id='e5'><query xmlns='${REGISTER}'><remove/></query></iq>`);
    assert.equal(condition(remove), 'unexpected-request');
    assert.equal(await ts.running.server.accounts.exists('x1'), false);
  });

  it('refuses look-alike usernames with jid-malformed (RFC 8265 §3.3 via RFC 7622 §3.3; XEP-0077 §3.1)', async () => {
    // zero-width space, soft hyphen, word joiner, right-to-left override, replacement character
    for (const [i, c] of ['\u200b', '\u00ad', '\u2060', '\u202e', '\ufffd'].entries()) {
      const { r } = await openStream(ts);
      const reply = await rawIq(r, `la${i}`, registerIq(`la${i}`, `taken${c}`, 'pw'));
      assert.equal(condition(reply), 'jid-malformed', JSON.stringify(c));
    }
    assert.deepEqual((await ts.running.server.accounts.list()).filter((u) => u.startsWith('taken')), ['taken']);
  });

  it('does not rate-limit loopback addresses by default', async () => {
    // per_ip_per_hour is 1 here and earlier tests already registered from 127.0.0.1.
    const { r } = await openStream(ts);
    assert.equal((await rawIq(r, 'l1', registerIq('l1', 'loopy', 'pw'))).attrs.type, 'result');
  });
});

describe('XEP-0077 registration rate limit per address', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ registration: { mode: 'open', per_ip_per_hour: 2 }, rate_limit: { exempt_networks: [] } });
  });
  after(() => ts.stop());

  it('refuses registrations over registration.per_ip_per_hour with not-acceptable/wait, failed attempts included (§3.1.1)', async () => {
    await ts.createUser('one');
    const { r } = await openStream(ts);
    // An attempt on a taken name costs PBKDF2 work like any other: it counts.
    const conflict = await rawIq(r, 'r1', registerIq('r1', 'one', 'pw'));
    assert.equal(condition(conflict), 'conflict');
    assert.equal((await rawIq(r, 'r2', registerIq('r2', 'two', 'pw'))).attrs.type, 'result');
    const { r: r3 } = await openStream(ts);
    const limited = await rawIq(r3, 'r3', registerIq('r3', 'three', 'pw'));
    assert.equal(condition(limited), 'not-acceptable');
    assert.equal(limited.getChild('error')!.attrs.type, 'wait');
    assert.equal(await ts.running.server.accounts.exists('three'), false);
  });
});

describe('XEP-0077 registration rate limit under concurrency', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ registration: { mode: 'open', per_ip_per_hour: 5 }, rate_limit: { exempt_networks: [] } });
  });
  after(() => ts.stop());

  it('lets only per_ip_per_hour of 20 concurrent registrations from one address through (§3.1.1)', async () => {
    const streams = await Promise.all(Array.from({ length: 20 }, () => openStream(ts)));
    const replies = await Promise.all(streams.map(({ r }, i) => rawIq(r, `c${i}`, registerIq(`c${i}`, `racer${i}`, 'pw'))));
    const created = replies.filter((reply) => reply.attrs.type === 'result').length;
    assert.equal(created, 5);
    for (const reply of replies.filter((x) => x.attrs.type === 'error')) assert.equal(condition(reply), 'not-acceptable');
    const accounts = (await ts.running.server.accounts.list()).filter((u) => u.startsWith('racer'));
    assert.equal(accounts.length, 5);
  });
});

describe('XEP-0077 with registration closed, and for authenticated users', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer(); // registration.mode defaults to closed
    for (const u of ['alice', 'bob', 'carol']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('neither advertises nor performs registration (§3.1: service-unavailable)', async () => {
    const { r, features } = await openStream(ts);
    assert.doesNotMatch(features, /iq-register/);
    const get = await rawIq(r, 'c1', `<iq type='get' id='c1'><query xmlns='${REGISTER}'/></iq>`);
    assert.equal(condition(get), 'service-unavailable');
    const set = await rawIq(r, 'c2', registerIq('c2', 'sneaky', 'pw'));
    assert.equal(condition(set), 'not-allowed');
    assert.equal(await ts.running.server.accounts.exists('sneaky'), false);
  });

  it('tells a logged-in user it is registered (§3.1) and lists the feature in disco#info (§10)', async () => {
    const c = await ts.client('alice');
    const reply = await c.iq(`<iq type='get' to='localhost'><query xmlns='${REGISTER}'/></iq>`);
    const query = reply.getChild('query', REGISTER)!;
    assert.ok(query.getChild('registered'));
    assert.equal(query.getChildText('username'), 'alice');
    assert.equal(query.getChild('password'), undefined);
    const noTo = await c.iq(`<iq type='get'><query xmlns='${REGISTER}'/></iq>`);
    assert.ok(noTo.getChild('query', REGISTER)!.getChild('registered'));
    const other = await c.iq(`<iq type='get' to='bob@localhost'><query xmlns='${REGISTER}'/></iq>`);
    assert.equal(condition(other), 'service-unavailable');
    // The host's disco#info lists the namespace (the disco module renders it); accounts do not.
    assert.ok(ts.running.server.main.info.features.has(REGISTER));
    assert.equal(ts.running.server.main.accountInfo.features.has(REGISTER), false);
  });

  it('changes the password even with registration closed (§3.3)', async () => {
    const c = await ts.client('bob');
    const reply = await c.iq(`<iq type='set' to='localhost'><query xmlns='${REGISTER}'><username>bob</username><password>n3w</password></query></iq>`);
    assert.equal(reply.attrs.type, 'result');
    await c.stop();
    await assert.rejects(ts.client('bob', { password: 'secret' }));
    const again = await ts.client('bob', { password: 'n3w' });
    // Not someone else's password, not an empty one, and the request is never echoed (§3.3).
    const forbidden = await again.iq(`<iq type='set'><query xmlns='${REGISTER}'><username>alice</username><password>hijack</password></query></iq>`);
    assert.equal(condition(forbidden), 'forbidden');
    assert.doesNotMatch(forbidden.toString(), /hijack/);
    const empty = await again.iq(`<iq type='set'><query xmlns='${REGISTER}'><username>bob</username><password/></query></iq>`);
    assert.equal(condition(empty), 'bad-request');
    const noUser = await again.iq(`<iq type='set'><query xmlns='${REGISTER}'><password>x</password></query></iq>`);
    assert.equal(condition(noUser), 'bad-request');
    await again.stop();
    await ts.client('bob', { password: 'n3w' }); // unchanged by the failed attempts
  });

  it('cancels the registration: result, then <not-authorized/> on every stream of the account (§3.2)', async () => {
    const bad = await ts.client('carol', { resource: 'bad' });
    const extra = `<iq type='set'><query xmlns='${REGISTER}'><remove/><username>carol</username></query></iq>`;
    assert.equal(condition(await bad.iq(extra)), 'bad-request');

    const r = await ts.raw();
    await r.login('carol', 'secret', 'other');
    const main = await ts.raw();
    await main.login('carol', 'secret', 'main');
    main.write(`<iq type='set' id='bye'><query xmlns='${REGISTER}'><remove/></query></iq>`);
    await main.waitClosed();
    const result = main.data.indexOf(`<iq type='result' id='bye'`);
    const streamError = main.data.indexOf('<stream:error><not-authorized');
    assert.ok(result !== -1 && streamError > result, main.data);
    await r.waitClosed();
    assert.match(r.data, /<stream:error><not-authorized/);
    assert.equal(await ts.running.server.accounts.exists('carol'), false);
    await assert.rejects(ts.client('carol'));
  });
});
