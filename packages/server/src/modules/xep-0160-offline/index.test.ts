// XEP-0160 end to end: storage while the user is offline, delivery on non-negative available presence.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseXml, type XmlElement } from '@parley/protocol';
import { startTestServer, type TestServer } from '../../testing/harness';
import { isWorthStoring } from './index';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const pause = (ms = 150) => new Promise((r) => setTimeout(r, ms));
const bodies = (els: XmlElement[]) => els.filter((el) => el.name === 'message').map((el) => el.getChildText('body'));
const condition = (el: XmlElement) => el.getChild('error')?.elements().find((c) => c.attrs.xmlns === STANZAS && c.name !== 'text')?.name;

describe('XEP-0160 offline messages', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ offline: { max_per_user: 3 } });
    for (const u of ['romeo', 'juliet', 'nurse', 'tybalt', 'paris', 'mercutio', 'benvolio']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('stores chat and normal messages and delivers them in order, stamped, on available presence (§2)', async () => {
    assert.ok(ts.running.server.main.info.features.has('msgoffline')); // §4
    const romeo = await ts.client('romeo');
    const before = new Date(Date.now() - 1000).toISOString();
    await romeo.send(`<message to='juliet@localhost' type='chat' id='o1'><body>one</body></message>`);
    await romeo.send(`<message to='juliet@localhost/balcony' id='o2'><body>two</body></message>`); // full JID falls back to bare
    await romeo.send(`<message to='juliet@localhost' type='normal' id='o3'><body>three</body></message>`);
    await pause();
    assert.equal(romeo.received.some((el) => el.attrs.type === 'error'), false, romeo.received.join('\n'));

    const juliet = await ts.client('juliet', { presence: false });
    await pause();
    assert.deepEqual(bodies(juliet.received), []); // not before available presence
    await juliet.send(`<presence><priority>1</priority></presence>`);
    await juliet.waitFor((el) => el.getChildText('body') === 'three');
    const got = juliet.received.filter((el) => el.name === 'message');
    assert.deepEqual(bodies(got), ['one', 'two', 'three']);
    const first = got[0]!;
    assert.equal(first.attrs.from, romeo.jid);
    assert.equal(first.attrs.to, 'juliet@localhost');
    assert.equal(first.attrs.id, 'o1');
    const delay = first.getChild('delay', 'urn:xmpp:delay')!;
    assert.equal(delay.attrs.from, 'localhost');
    assert.ok(delay.attrs.stamp! >= before && delay.attrs.stamp! <= new Date().toISOString(), delay.attrs.stamp);
    assert.match(delay.attrs.stamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/); // XEP-0082 DateTime, UTC

    // Delivered once: gone from storage.
    await juliet.stop();
    const again = await ts.client('juliet');
    await pause();
    assert.deepEqual(bodies(again.received), []);
  });

  it('does not store groupchat, headline, chat-state-only or no-store messages (§3, XEP-0334)', async () => {
    const nurse = await ts.client('nurse');
    await nurse.send(`<message to='tybalt@localhost' type='headline' id='h'><body>news</body></message>`);
    await nurse.send(`<message to='tybalt@localhost' type='groupchat' id='g'><body>room</body></message>`);
    await nurse.send(`<message to='tybalt@localhost' type='chat' id='cs'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    await nurse.send(`<message to='tybalt@localhost' type='chat' id='ns'><body>transient</body><no-store xmlns='urn:xmpp:hints'/></message>`);
    await nurse.send(
      `<message to='tybalt@localhost' type='chat' id='st'><received xmlns='urn:xmpp:receipts' id='x'/><store xmlns='urn:xmpp:hints'/></message>`,
    );
    await nurse.send(`<message to='tybalt@localhost' type='chat' id='np'><body>off the record</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>`);
    // RFC 6121 §8.5.2.2.1: what is not stored is answered with service-unavailable (groupchat by the router).
    for (const id of ['g', 'cs', 'ns']) {
      const err = await nurse.waitFor((el) => el.attrs.id === id && el.attrs.type === 'error');
      assert.equal(condition(err), 'service-unavailable', id);
    }
    await pause();
    assert.equal(nurse.received.some((el) => el.attrs.type === 'error' && ['h', 'st', 'np'].includes(el.attrs.id!)), false);

    const tybalt = await ts.client('tybalt');
    await tybalt.waitFor((el) => el.attrs.id === 'np');
    await pause();
    assert.deepEqual(
      tybalt.received.filter((el) => el.name === 'message').map((el) => el.attrs.id),
      ['st', 'np'],
    );
  });

  it('bounces with service-unavailable once the user’s queue is full (offline.max_per_user, §2)', async () => {
    const romeo = await ts.client('romeo', { resource: 'full' });
    for (let i = 1; i <= 4; i++) await romeo.send(`<message to='paris@localhost' type='chat' id='q${i}'><body>${i}</body></message>`);
    const err = await romeo.waitFor((el) => el.attrs.id === 'q4');
    assert.equal(err.attrs.type, 'error');
    assert.equal(err.attrs.from, 'paris@localhost');
    assert.equal(condition(err), 'service-unavailable');
    assert.equal(romeo.received.filter((el) => el.attrs.type === 'error').length, 1);
    const paris = await ts.client('paris');
    await paris.waitFor((el) => el.getChildText('body') === '3');
    assert.deepEqual(bodies(paris.received), ['1', '2', '3']);
  });

  it('keeps messages for a negative-priority resource, which never gets bare-JID messages (§2 note)', async () => {
    const low = await ts.client('mercutio', { resource: 'low', presence: false });
    await low.send(`<presence><priority>-1</priority></presence>`);
    const romeo = await ts.client('romeo', { resource: 'neg' });
    await romeo.send(`<message to='mercutio@localhost' type='chat'><body>for later</body></message>`);
    await pause();
    assert.deepEqual(bodies(low.received), []);
    const high = await ts.client('mercutio', { resource: 'high' });
    await high.waitFor((el) => el.getChildText('body') === 'for later');
    assert.deepEqual(bodies(low.received), []);
  });

  it('drops the queue when the account is deleted', async () => {
    const romeo = await ts.client('romeo', { resource: 'del' });
    await romeo.send(`<message to='benvolio@localhost' type='chat'><body>stale</body></message>`);
    await pause();
    assert.equal(await ts.running.server.storage.archive('offline').count('benvolio@localhost'), 1);
    await ts.running.server.accounts.delete('benvolio');
    assert.equal(await ts.running.server.storage.archive('offline').count('benvolio@localhost'), 0);
  });
});

describe('XEP-0160 offline storage limits and batched delivery', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ offline: { max_per_user: 1000, max_bytes_per_user: 20_000, delivery_batch: 10 } });
    for (const u of ['romeo', 'juliet', 'rosaline', 'friar']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('bounces with service-unavailable once the user’s stored bytes would pass offline.max_bytes_per_user (§2)', async () => {
    const romeo = await ts.client('romeo', { resource: 'bytes' });
    const text = 'x'.repeat(6000); // with the envelope and delay stamp, each stored message is about 6.2 KB
    for (let i = 1; i <= 4; i++) await romeo.send(`<message to='juliet@localhost' type='chat' id='b${i}'><body>${i}${text}</body></message>`);
    const err = await romeo.waitFor((el) => el.attrs.id === 'b4');
    assert.equal(err.attrs.type, 'error');
    assert.equal(err.attrs.from, 'juliet@localhost');
    assert.equal(condition(err), 'service-unavailable');
    // A small message still fits in what is left; one larger than the whole allowance never does.
    await romeo.send(`<message to='juliet@localhost' type='chat' id='small'><body>short</body></message>`);
    await romeo.send(`<message to='juliet@localhost' type='chat' id='huge'><body>${'y'.repeat(25_000)}</body></message>`);
    assert.equal(condition(await romeo.waitFor((el) => el.attrs.id === 'huge')), 'service-unavailable');
    await pause();
    assert.deepEqual(romeo.received.filter((el) => el.attrs.type === 'error').map((el) => el.attrs.id), ['b4', 'huge']);
    const usage = await ts.running.server.storage.archive('offline').usage('juliet@localhost');
    assert.equal(usage.items, 4);
    assert.ok(usage.bytes <= 20_000, `stored ${usage.bytes} bytes`);

    const juliet = await ts.client('juliet');
    await juliet.waitFor((el) => el.attrs.id === 'small');
    assert.deepEqual(juliet.received.filter((el) => el.name === 'message').map((el) => el.attrs.id), ['b1', 'b2', 'b3', 'small']);
  });

  it('delivers many stored messages in batches of offline.delivery_batch, in order, not in one burst', async () => {
    const friar = await ts.client('friar', { resource: 'many' });
    for (let i = 1; i <= 35; i++) await friar.send(`<message to='rosaline@localhost' type='chat' id='m${i}'><body>${i}</body></message>`);
    await pause(300);
    assert.equal(friar.received.filter((el) => el.attrs.type === 'error').length, 0);
    assert.equal(await ts.running.server.storage.archive('offline').count('rosaline@localhost'), 35);

    // A burst: the stanzas queued for rosaline within one turn of the event loop, which her connection writes
    // out together. Recorded on the server's own outbound path ('session/sending').
    const bursts: number[] = [];
    let burstOpen = false;
    const watch = ts.running.server.hooks.on('session/sending', ({ session, stanza }) => {
      if (session.jid.toBareString() !== 'rosaline@localhost' || stanza.name !== 'message') return;
      if (!burstOpen) {
        burstOpen = true;
        bursts.push(0);
        setImmediate(() => (burstOpen = false));
      }
      bursts[bursts.length - 1]!++;
    });
    try {
      const rosaline = await ts.client('rosaline');
      await rosaline.waitFor((el) => el.attrs.id === 'm35');
      assert.deepEqual(
        rosaline.received.filter((el) => el.name === 'message').map((el) => el.attrs.id),
        Array.from({ length: 35 }, (_, i) => `m${i + 1}`),
      );
      assert.deepEqual(bursts, [10, 10, 10, 5]);
      assert.equal(await ts.running.server.storage.archive('offline').count('rosaline@localhost'), 0);
    } finally {
      watch.dispose();
    }
  });
});

describe('isWorthStoring', () => {
  const worth = (x: string) => isWorthStoring(parseXml(x));
  it('keeps messages with content, not those with only chat states or a thread', () => {
    assert.equal(worth(`<message><body>hi</body></message>`), true);
    assert.equal(worth(`<message><x xmlns='jabber:x:conference' jid='room@muc'/></message>`), true);
    assert.equal(worth(`<message><active xmlns='http://jabber.org/protocol/chatstates'/><thread>t</thread></message>`), false);
    assert.equal(worth(`<message/>`), false);
    assert.equal(worth(`<message><body>hi</body><no-store xmlns='urn:xmpp:hints'/></message>`), false);
    assert.equal(worth(`<message><gone xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>`), true);
  });
});
