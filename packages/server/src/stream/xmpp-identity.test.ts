// RFC 6125 / XEP-0178 name checks of peer servers' certificates, on real certificates from a throw-away CA.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createTestCa, hasOpenssl, type TestCa } from '../testing/test-ca';
import { certificateNames, subjectAltNames } from './xmpp-identity';

describe('certificate names of a peer server (RFC 6125, XEP-0178)', { skip: hasOpenssl() ? false : 'the openssl command is not installed' }, () => {
  let ca: TestCa;
  const certOf = (names: string[], cn = 'ignored.test') => {
    const { cert } = ca.issue('x', { names, cn, file: `c${Math.random().toString(36).slice(2)}` });
    return new X509Certificate(readFileSync(cert)).toLegacyObject();
  };
  before(() => {
    ca = createTestCa();
  });
  after(() => ca?.remove());

  it('accepts an id-on-xmppAddr naming the domain, and only that domain (no wildcards, no sub-domains)', () => {
    const cert = certOf(['xmpp:a.test']);
    assert.match(cert.subjectaltname ?? '', /othername:XmppAddr:a\.test/);
    assert.equal(certificateNames('a.test', cert), true);
    assert.equal(certificateNames('A.TEST', cert), true, 'domains compare without case');
    assert.equal(certificateNames('conference.a.test', cert), false);
    assert.equal(certificateNames('b.test', cert), false);
    assert.equal(certificateNames('ignored.test', cert), false, 'the CN does not count next to an xmppAddr');
  });

  it('accepts an SRV-ID for the xmpp-server service, not for another service', () => {
    assert.equal(certificateNames('a.test', certOf(['srv:_xmpp-server.a.test'])), true);
    assert.equal(certificateNames('a.test', certOf(['srv:_xmpp-client.a.test'])), false);
    assert.equal(certificateNames('conference.a.test', certOf(['srv:_xmpp-server.a.test'])), false);
  });

  it('accepts a DNS-ID, with a wildcard standing for exactly one left-most label', () => {
    const cert = certOf(['dns:a.test', 'dns:*.a.test']);
    assert.equal(certificateNames('a.test', cert), true);
    assert.equal(certificateNames('conference.a.test', cert), true);
    assert.equal(certificateNames('x.conference.a.test', cert), false);
    const services = certOf(['dns:*.a.test']);
    assert.equal(certificateNames('a.test', services), false, 'a wildcard does not cover the domain itself');
    assert.equal(certificateNames('upload.a.test', services), true);
  });

  it('refuses a certificate for another name', () => {
    const cert = certOf(['dns:evil.test', 'xmpp:evil.test', 'srv:_xmpp-server.evil.test'], 'a.test');
    assert.equal(certificateNames('a.test', cert), false);
    assert.equal(certificateNames('a.evil.test', cert), false);
  });

  it('falls back to the CN only when the certificate has no identifier in subjectAltName', () => {
    assert.equal(certificateNames('a.test', certOf([], 'a.test')), true);
    assert.equal(certificateNames('b.test', certOf([], 'a.test')), false);
    assert.equal(certificateNames('a.test', certOf(['dns:b.test'], 'a.test')), false);
  });

  it('reads Node’s quoted subjectAltName values', () => {
    assert.deepEqual(subjectAltNames('DNS:a.test, othername:XmppAddr:"x, y", DNS:b.test'), ['DNS:a.test', 'othername:XmppAddr:x, y', 'DNS:b.test']);
    assert.deepEqual(subjectAltNames(undefined), []);
  });
});
