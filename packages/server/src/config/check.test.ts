// check-config's file checks against real certificates: generated ones for the right and the wrong domain.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDevCertificate, type CertificatePaths } from '../net/dev-certificate';
import { checkConfigFiles } from './check';
import { loadConfig } from './load';

describe('checkConfigFiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-check-'));
  let good: CertificatePaths;
  let other: CertificatePaths;
  before(async () => {
    good = await ensureDevCertificate(join(dir, 'good'), 'example.org');
    other = await ensureDevCertificate(join(dir, 'other'), 'other.net');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const check = (tls: object, extra: object = {}) => checkConfigFiles(loadConfig({ overrides: { domain: 'example.org', data_dir: join(dir, 'data'), tls, ...extra } as never }));

  it('accepts a readable certificate and key for the domain and its sub-domains', () => {
    assert.deepEqual(check({ cert: good.certPath, key: good.keyPath }), { errors: [], warnings: [] });
  });

  it('names a missing certificate file and says what to do', () => {
    const r = check({ cert: join(dir, 'nope.crt'), key: good.keyPath });
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0]!, /^tls\.cert: '.*nope\.crt' does not exist; set tls\.cert to your certificate chain/);
  });

  it('refuses a key of another certificate, and a certificate for another domain', () => {
    const mismatch = check({ cert: good.certPath, key: other.keyPath });
    assert.deepEqual(mismatch.errors.map((e) => e.split(':')[0]), ['tls.key']);
    assert.match(mismatch.errors[0]!, /does not belong to the certificate/);
    const wrong = check({ cert: other.certPath, key: other.keyPath });
    assert.match(wrong.errors.join('\n'), /does not cover the domain example\.org \(it names other\.net, \*\.other\.net\)/);
  });

  it('warns when a service sub-domain is not covered', () => {
    const r = check({ cert: good.certPath, key: good.keyPath }, { services: { conference: 'chat.example.net' } });
    assert.deepEqual(r.errors, []);
    assert.match(r.warnings[0]!, /does not cover chat\.example\.net \(services\.\*\)/);
  });

  it('reports an unreadable key file', { skip: process.getuid?.() === 0 && 'root reads every file' }, () => {
    const key = join(dir, 'locked.key');
    writeFileSync(key, 'x');
    chmodSync(key, 0o000);
    assert.match(check({ cert: good.certPath, key }).errors.join('\n'), /tls\.key: '.*locked\.key' is not readable by this user/);
  });
});
