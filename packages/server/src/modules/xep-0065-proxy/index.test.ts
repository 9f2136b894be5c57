// XEP-0065 mediated bytestreams (§6) end to end: two xmpp.js clients negotiate over XMPP, their data sockets
// are plain node:net SOCKS5 clients, and a file goes through the proxy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startTestServer, type TestServer } from '../../testing/harness';
import type { XmlElement } from '@parley/protocol';
import { xml as xx } from '@xmpp/client';
import { SocksClient } from './socks5-test-client';

type XmlEl = { attrs: Record<string, string | undefined>; getChild(name: string): XmlEl | undefined };

const BS = 'http://jabber.org/protocol/bytestreams';
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const condition = (iq: XmlElement) =>
  iq.getChild('error')?.elements().find((e) => e.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas')?.name;

describe('XEP-0065 SOCKS5 bytestreams proxy', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ modules: { options: { proxy: { port: 0, idle_timeout_s: 5 } } } } as never);
    for (const u of ['requester', 'target']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('is discoverable as a proxy/bytestreams service (§4)', async () => {
    const c = await ts.client('requester', { resource: 'disco' });
    const items = await c.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    assert.ok(items.getChild('query')!.getChildren('item').some((i) => i.attrs.jid === 'proxy.localhost'));
    const info = await c.iq(`<iq type='get' to='proxy.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const q = info.getChild('query')!;
    assert.equal(q.getChild('identity')!.toString(), "<identity category='proxy' type='bytestreams' name='SOCKS5 Bytestreams'/>");
    assert.ok(q.getChildren('feature').some((f) => f.attrs.var === BS));
    await c.stop();
  });

  it('carries a file from requester to target once activated (§6.3)', async () => {
    const requester = await ts.client('requester', { resource: 'r' });
    const target = await ts.client('target', { resource: 't' });

    // §6.3.1 (via §4): the requester asks the proxy for its network address.
    const found = await requester.iq(`<iq type='get' to='proxy.localhost'><query xmlns='${BS}'/></iq>`);
    assert.equal(found.attrs.type, 'result', found.toString());
    const host = found.getChild('query', BS)!.getChild('streamhost')!;
    assert.equal(host.attrs.jid, 'proxy.localhost');
    assert.equal(host.attrs.host, '127.0.0.1');
    const port = Number(host.attrs.port);
    assert.ok(port > 0);

    // §6.3.2–§6.3.3: the target connects to the proxy with the hash, then says which streamhost it used.
    // (Answered through xmpp.js's iq callee, which otherwise answers unknown iqs itself.)
    let t: Awaited<ReturnType<typeof SocksClient.connectTo>> | undefined;
    (target.xmpp as any).iqCallee.set(BS, 'query', async (ctx: { stanza: XmlEl; element: XmlEl }) => {
      const sh = ctx.element.getChild('streamhost')!;
      // §5.3.2: DST.ADDR = SHA1(SID + Requester JID + Target JID).
      t = await SocksClient.connectTo(Number(sh.attrs.port), sha1(`${ctx.element.attrs.sid}${ctx.stanza.attrs.from}${target.jid}`));
      assert.equal(t.rep, 0);
      return xx('query', { xmlns: BS }, xx('streamhost-used', { jid: sh.attrs.jid! }));
    });

    // §6.3.1: requester → target, routed untouched between full JIDs.
    const sid = 'vxf9n471bn46';
    const used = await requester.iq(
      `<iq type='set' to='${target.jid}'><query xmlns='${BS}' sid='${sid}' mode='tcp'>${host.toString()}</query></iq>`,
    );
    assert.equal(used.attrs.type, 'result', used.toString());
    assert.equal(used.getChild('query', BS)!.getChild('streamhost-used')!.attrs.jid, 'proxy.localhost');
    assert.ok(t);

    // Activating with only the target connected is not-allowed (§6.3.4).
    const early = await requester.iq(`<iq type='set' to='proxy.localhost'><query xmlns='${BS}' sid='${sid}'><activate>${target.jid}</activate></query></iq>`);
    assert.equal(condition(early), 'not-allowed');

    // §6.3.4: the requester connects with the same hash, then activates.
    const r = await SocksClient.connectTo(port, sha1(sid + requester.jid + target.jid));
    assert.equal(r.rep, 0);
    const act = await requester.iq(`<iq type='set' to='proxy.localhost'><query xmlns='${BS}' sid='${sid}'><activate>${target.jid}</activate></query></iq>`);
    assert.equal(act.attrs.type, 'result', act.toString());
    assert.equal(act.attrs.from, 'proxy.localhost');

    const file = randomBytes(512 * 1024);
    r.client.socket.end(file);
    const received = await t.client.readAll();
    assert.equal(received.length, file.length);
    assert.ok(received.equals(file));
    await requester.stop();
    await target.stop();
  });

  it('answers activation errors (§6.3.4)', async () => {
    const requester = await ts.client('requester', { resource: 'errs' });
    const unknown = await requester.iq(`<iq type='set' to='proxy.localhost'><query xmlns='${BS}' sid='nope'><activate>target@localhost/t</activate></query></iq>`);
    assert.equal(condition(unknown), 'item-not-found');
    const noTarget = await requester.iq(`<iq type='set' to='proxy.localhost'><query xmlns='${BS}' sid='x'/></iq>`);
    assert.equal(condition(noTarget), 'bad-request');
    const bad = await requester.iq(`<iq type='set' to='proxy.localhost'><query xmlns='${BS}' sid='x'><activate>@@</activate></query></iq>`);
    assert.equal(condition(bad), 'jid-malformed');
    // Someone else's bytestream cannot be activated: the hash includes the requester's full JID.
    const sid = 'theirs';
    const t = await SocksClient.connectTo(await proxyPort(requester), sha1(sid + 'target@localhost/x' + 'requester@localhost/y'));
    const r = await SocksClient.connectTo(await proxyPort(requester), sha1(sid + 'target@localhost/x' + 'requester@localhost/y'));
    assert.equal(t.rep + r.rep, 0);
    const stolen = await requester.iq(`<iq type='set' to='proxy.localhost'><query xmlns='${BS}' sid='${sid}'><activate>requester@localhost/y</activate></query></iq>`);
    assert.equal(condition(stolen), 'item-not-found');
    t.client.socket.destroy();
    r.client.socket.destroy();
    await requester.stop();
  });
});

async function proxyPort(c: { iq(s: string): Promise<XmlElement> }): Promise<number> {
  const r = await c.iq(`<iq type='get' to='proxy.localhost'><query xmlns='${BS}'/></iq>`);
  return Number(r.getChild('query', BS)!.getChild('streamhost')!.attrs.port);
}
