// The SOCKS5 relay on its own (RFC 1928 subset of XEP-0065 §6): pairing, early bytes, limits and timeouts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Socks5Proxy } from './socks5';
import { SocksClient } from './socks5-test-client';
import { streamHash } from './index';

const hash = (sid: string) => streamHash(sid, 'a@localhost/r', 'b@localhost/t');

describe('SOCKS5 relay', () => {
  let proxy: Socks5Proxy;
  let port: number;
  before(async () => {
    proxy = new Socks5Proxy({ maxPending: 4, idleTimeoutMs: 400 });
    port = await proxy.listen(0, '127.0.0.1');
  });
  after(() => proxy.close());

  it('pairs two connections by hash and relays both ways after activation, keeping early bytes (§8.1)', async () => {
    const h = hash('pair');
    assert.equal(proxy.activate(h), 'not-found');
    const target = await SocksClient.connectTo(port, h);
    assert.equal(target.rep, 0);
    target.client.socket.write('early from target');
    assert.equal(proxy.activate(h), 'one-party');
    const requester = await SocksClient.connectTo(port, h);
    assert.equal(requester.rep, 0);
    // §8.1: one target only; a third connection for the same hash is refused (RFC 1928 rep 2).
    const third = await SocksClient.connectTo(port, h);
    assert.equal(third.rep, 2);
    await third.client.waitClosed();
    assert.equal(proxy.activate(h), 'ok');
    assert.equal(proxy.activate(h), 'active');
    assert.equal((await requester.client.read(17)).toString(), 'early from target');
    requester.client.socket.write('hello target');
    assert.equal((await target.client.read(12)).toString(), 'hello target');
    requester.client.socket.end();
    await target.client.waitClosed();
  });

  it('refuses other commands, address types and authentication-only greetings', async () => {
    const noAuth = await SocksClient.open(port);
    noAuth.socket.write(Buffer.from([5, 1, 2])); // username/password only
    assert.deepEqual([...(await noAuth.read(2))], [5, 0xff]);
    await noAuth.waitClosed();
    const ipv4 = await SocksClient.open(port);
    ipv4.socket.write(Buffer.from([5, 1, 0]));
    await ipv4.read(2);
    ipv4.socket.write(Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, 0, 80]));
    assert.equal((await ipv4.read(2))[1], 8);
    await ipv4.waitClosed();
    const notHash = await SocksClient.connectTo(port, 'example.com');
    assert.equal(notHash.rep, 2);
  });

  it('closes idle connections and drops the waiting partner', async () => {
    const target = await SocksClient.connectTo(port, hash('idle'));
    assert.equal(target.rep, 0);
    const started = Date.now();
    await target.client.waitClosed(3000);
    assert.ok(Date.now() - started >= 300);
    assert.equal(proxy.activate(hash('idle')), 'not-found');
  });

  it('limits connections waiting for activation', async () => {
    const waiting = [];
    for (let i = 0; i < 4; i++) waiting.push(await SocksClient.connectTo(port, hash(`limit${i}`)));
    assert.equal(proxy.pendingCount, 4);
    const over = await SocksClient.open(port);
    await over.waitClosed();
    for (const w of waiting) w.client.socket.destroy();
  });
});
