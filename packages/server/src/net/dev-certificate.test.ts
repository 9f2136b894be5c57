import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { ConfigError, loadConfig } from '../config';
import { ensureDevCertificate, loadTlsMaterial } from './dev-certificate';

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-cert-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('generates a dev certificate once and reuses it', () =>
  withTempDir(async (dir) => {
    const first = await ensureDevCertificate(dir, 'example.test');
    assert.equal(first.certPath, join(dir, 'certs', 'example.test.crt'));
    assert.equal(first.keyPath, join(dir, 'certs', 'example.test.key'));
    if (process.platform !== 'win32') assert.equal((await stat(first.keyPath)).mode & 0o777, 0o600);

    const pem = await readFile(first.certPath);
    const x509 = new X509Certificate(pem);
    assert.equal(x509.subjectAltName, 'DNS:example.test, DNS:*.example.test');
    assert.equal(x509.checkHost('conference.example.test'), '*.example.test');
    assert.equal(x509.checkHost('example.org'), undefined);
    assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 2048);

    const second = await ensureDevCertificate(dir, 'example.test');
    assert.deepEqual(second, first);
    assert.deepEqual(await readFile(second.certPath), pem, 'the second call reuses the certificate');

    createSecureContext({ cert: pem, key: await readFile(first.keyPath) });
  }));

test('regenerates when the certificate does not cover an extra name', () =>
  withTempDir(async (dir) => {
    const first = await ensureDevCertificate(dir, 'example.test');
    const before = await readFile(first.certPath);
    await ensureDevCertificate(dir, 'example.test', ['muc.example.org']);
    const after = new X509Certificate(await readFile(first.certPath));
    assert.notDeepEqual(after.raw, new X509Certificate(before).raw);
    assert.equal(after.checkHost('muc.example.org'), 'muc.example.org');
  }));

test('loadTlsMaterial falls back to the dev certificate and feeds createSecureContext', () =>
  withTempDir(async (dir) => {
    const config = loadConfig({ overrides: { data_dir: dir, domain: 'example.test' } });
    const tls = await loadTlsMaterial(config);
    assert.ok(Buffer.isBuffer(tls.cert) && Buffer.isBuffer(tls.key));
    createSecureContext({ cert: tls.cert, key: tls.key });

    // Configured files are read as they are.
    const configured = loadConfig({
      overrides: { data_dir: join(dir, 'other'), tls: { cert: join(dir, 'certs', 'example.test.crt'), key: join(dir, 'certs', 'example.test.key') } },
    });
    const again = await loadTlsMaterial(configured);
    assert.deepEqual(again, tls);
  }));

test('loadTlsMaterial names the config key and path when a file is missing or wrong', () =>
  withTempDir(async (dir) => {
    const missing = join(dir, 'nope.pem');
    await assert.rejects(
      loadTlsMaterial(loadConfig({ overrides: { data_dir: dir, tls: { cert: missing, key: missing } } })),
      (err: unknown) => err instanceof ConfigError && err.message === `tls.cert: cannot read '${missing}': file not found`,
    );

    const { certPath } = await ensureDevCertificate(dir, 'example.test');
    const junk = join(dir, 'junk.key');
    await writeFile(junk, 'not a key');
    await assert.rejects(
      loadTlsMaterial(loadConfig({ overrides: { data_dir: dir, tls: { cert: certPath, key: junk } } })),
      (err: unknown) => err instanceof ConfigError && err.message.startsWith(`tls.key: '${junk}' is not`),
    );
  }));
