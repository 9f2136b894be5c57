// Finding another server (RFC 6120 §3.2, XEP-0368) against a tiny DNS server on loopback (dns-packet over UDP):
// SRV records of both kinds in priority order, a "." target meaning no service, the fallback to the domain on 5269,
// addresses through the same resolver, and a DNS server that never answers costing the timeout, not minutes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { startDnsServer, srvRecord, type DnsZone } from '../testing/dns-server';
import { NoXmppService, S2sResolver } from './s2s-resolve';

const srv = srvRecord;
const ZONE: DnsZone = {
  '_xmpp-server._tcp.example.org': [srv('_xmpp-server._tcp.example.org', 10, 5269, 'xmpp.example.org'), srv('_xmpp-server._tcp.example.org', 20, 5270, 'backup.example.org')],
  '_xmpps-server._tcp.example.org': [srv('_xmpps-server._tcp.example.org', 5, 5270, 'tls.example.org')],
  '_xmpp-server._tcp.none.example': [srv('_xmpp-server._tcp.none.example', 0, 0, '.')],
  '_xmpps-server._tcp.none.example': [srv('_xmpps-server._tcp.none.example', 0, 0, '.')],
  'xmpp.example.org/A': [{ type: 'A', name: 'xmpp.example.org', data: '203.0.113.10' }],
  'xmpp.example.org/AAAA': [{ type: 'AAAA', name: 'xmpp.example.org', data: '2001:db8::10' }],
};

const startDns = () => startDnsServer(ZONE);

describe('s2s resolver (RFC 6120 §3.2, XEP-0368)', () => {
  let dns: { socket: Socket; address: string };
  let silent: Socket;
  before(async () => {
    dns = await startDns();
    silent = createSocket('udp4'); // bound, never replies
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  });
  after(() => {
    dns.socket.close();
    silent.close();
  });
  const resolver = (servers: string[], staticRoutes: Record<string, string> = {}) => new S2sResolver({ servers, timeoutMs: 1000, staticRoutes });

  it('orders SRV targets of both kinds by priority, direct TLS marked', async () => {
    const targets = await resolver([dns.address]).resolve('example.org');
    assert.deepEqual(targets, [
      { host: 'tls.example.org', port: 5270, directTls: true },
      { host: 'xmpp.example.org', port: 5269, directTls: false },
      { host: 'backup.example.org', port: 5270, directTls: false },
    ]);
    assert.deepEqual(await resolver([dns.address]).addresses('xmpp.example.org'), ['2001:db8::10', '203.0.113.10']);
  });

  it('falls back to the domain on port 5269 without SRV records', async () => {
    assert.deepEqual(await resolver([dns.address]).resolve('plain.example'), [{ host: 'plain.example', port: 5269, directTls: false }]);
  });

  it('takes a lone "." target as no XMPP service', async () => {
    await assert.rejects(resolver([dns.address]).resolve('none.example'), NoXmppService);
  });

  it('gives up within the timeout when the DNS server does not answer', async () => {
    const started = Date.now();
    const r = resolver([`127.0.0.1:${silent.address().port}`]);
    assert.deepEqual(await r.resolve('example.org'), [{ host: 'example.org', port: 5269, directTls: false }]);
    assert.deepEqual(await r.addresses('example.org'), []);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });

  it('uses s2s.static_routes before DNS', async () => {
    assert.deepEqual(await resolver([dns.address], { 'example.org': '[::1]:15269' }).resolve('example.org'), [{ host: '::1', port: 15269, directTls: false }]);
    // XEP-0368 direct TLS through a static route.
    assert.deepEqual(await resolver([dns.address], { 'example.org': 'tls:127.0.0.1:15270' }).resolve('example.org'), [{ host: '127.0.0.1', port: 15270, directTls: true }]);
  });
});
