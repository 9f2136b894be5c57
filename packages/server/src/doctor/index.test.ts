// `parley doctor` against DNS answers from a tiny server this test runs on loopback (dns-packet over UDP): a good
// set-up, a broken one, and a resolver that does not answer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { startDnsServer, srvRecord, type DnsZone } from '../testing/dns-server';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config';
import { runDoctor, type Finding } from './index';

const ZONE: DnsZone = {
  '_xmpp-client._tcp.example.org': [srvRecord('_xmpp-client._tcp.example.org', 5, 5222, 'xmpp.example.org')],
  '_xmpps-client._tcp.example.org': [srvRecord('_xmpps-client._tcp.example.org', 5, 5223, 'xmpp.example.org')],
  '_xmpp-server._tcp.example.org': [srvRecord('_xmpp-server._tcp.example.org', 5, 5269, 'xmpp.example.org')],
  'xmpp.example.org/A': [{ type: 'A', name: 'xmpp.example.org', data: '203.0.113.10' }],
  'xmpp.example.org/AAAA': [{ type: 'AAAA', name: 'xmpp.example.org', data: '2001:db8::10' }],
};

const startDns = () => startDnsServer(ZONE);

const find = (findings: Finding[], level: Finding['level'], pattern: RegExp) => findings.find((f) => f.level === level && pattern.test(f.message));

describe('parley doctor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-doctor-'));
  let dns: { socket: Socket; address: string };
  before(async () => {
    dns = await startDns();
  });
  after(() => {
    dns.socket.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const config = (domain: string, dataDir: string) =>
    loadConfig({ overrides: { domain, data_dir: dataDir, c2s: { port: 5222, tls_port: 5223 } } as never });

  it('finds the SRV, XEP-0368 and address records of a good set-up', async () => {
    const data = join(dir, 'good');
    mkdirSync(data, { mode: 0o700 });
    const findings = await runDoctor(config('example.org', data), { resolvers: [dns.address], dnsTimeoutMs: 2000 });
    const dnsFindings = findings.filter((f) => f.check === 'dns');
    assert.deepEqual(dnsFindings.filter((f) => f.level !== 'ok'), [], JSON.stringify(dnsFindings));
    assert.ok(find(findings, 'ok', /^_xmpp-client\._tcp\.example\.org → xmpp\.example\.org:5222$/));
    assert.ok(find(findings, 'ok', /^_xmpps-client\._tcp\.example\.org → xmpp\.example\.org:5223$/));
    assert.ok(find(findings, 'ok', /^xmpp\.example\.org → 203\.0\.113\.10, 2001:db8::10$/));
    assert.ok(find(findings, 'ok', /is private \(0700\)/));
  });

  it('reports every problem of a broken set-up with a fix', async () => {
    const data = join(dir, 'broken');
    mkdirSync(data);
    chmodSync(data, 0o755);
    const findings = await runDoctor(config('broken.example', data), { resolvers: [dns.address], dnsTimeoutMs: 2000 });
    assert.ok(find(findings, 'warn', /no SRV record _xmpp-client\._tcp\.broken\.example/));
    assert.ok(find(findings, 'warn', /no SRV record _xmpps-client\._tcp\.broken\.example \(XEP-0368\)/));
    assert.ok(find(findings, 'error', /^broken\.example has no A or AAAA record/));
    assert.ok(find(findings, 'warn', /has mode 0755: other users can reach/));
    for (const f of findings.filter((x) => x.level !== 'ok')) assert.ok(f.fix, `a fix for: ${f.message}`);
    assert.equal(find(findings, 'warn', /has mode/)!.fix, `chmod 700 ${data}`);
  });

  it('does not crash when DNS does not answer', async () => {
    const silent = createSocket('udp4'); // bound, never replies
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
    try {
      const findings = await runDoctor(config('example.org', join(dir, 'none')), { resolvers: [`127.0.0.1:${silent.address().port}`], dnsTimeoutMs: 300 });
      const f = find(findings, 'warn', /^DNS could not be checked: 127\.0\.0\.1:\d+ did not answer$/);
      assert.ok(f?.fix);
    } finally {
      silent.close();
    }
  });
});
