import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_ITERATIONS, SaslPrepError, deriveCredentials, saslPrep, verifyPassword } from './credentials';

test('derives keys for both hashes, never the password', async () => {
  const creds = await deriveCredentials('pencil');
  for (const [mech, size] of [['SCRAM-SHA-1', 20], ['SCRAM-SHA-256', 32]] as const) {
    const keys = creds[mech];
    assert.equal(keys.iterations, DEFAULT_ITERATIONS);
    assert.equal(Buffer.from(keys.salt, 'base64').length, 16);
    assert.equal(Buffer.from(keys.storedKey, 'base64').length, size);
    assert.equal(Buffer.from(keys.serverKey, 'base64').length, size);
  }
  assert.notEqual(creds['SCRAM-SHA-1'].salt, creds['SCRAM-SHA-256'].salt);
  assert.ok(!JSON.stringify(creds).includes('pencil'));
});

test('a given salt and count are used as is', async () => {
  const salt = Buffer.from('QSXCR+Q6sek8bf92', 'base64');
  const creds = await deriveCredentials('pencil', 100, salt);
  assert.equal(creds['SCRAM-SHA-1'].salt, 'QSXCR+Q6sek8bf92');
  assert.equal(creds['SCRAM-SHA-256'].salt, 'QSXCR+Q6sek8bf92');
  assert.equal(creds['SCRAM-SHA-256'].iterations, 100);
  assert.deepEqual(await deriveCredentials('pencil', 100, salt), creds);
});

test('verifyPassword', async () => {
  const creds = await deriveCredentials('correct horse', 64);
  assert.equal(await verifyPassword(creds, 'correct horse'), true);
  assert.equal(await verifyPassword(creds, 'correct horse '), false);
  assert.equal(await verifyPassword(creds, 'Correct horse'), false);
  assert.equal(await verifyPassword(creds, ''), false);
  assert.equal(await verifyPassword(creds, 'correct\u0000horse'), false);
});

test('passwords are SASLprep-ed (approximately: RFC 4013 mappings, NFKC, no control characters)', async () => {
  assert.equal(saslPrep('I\u00adX'), 'IX'); // RFC 4013 §3 example: soft hyphen mapped to nothing
  assert.equal(saslPrep('user'), 'user');
  assert.equal(saslPrep('USER'), 'USER'); // case preserved
  assert.equal(saslPrep('\u00aa'), 'a'); // NFKC
  assert.equal(saslPrep('\u2168'), 'IX'); // NFKC
  assert.equal(saslPrep('a\u00a0b'), 'a b'); // non-ASCII space to SPACE
  assert.throws(() => saslPrep('\u0007'), SaslPrepError); // RFC 4013 §3 example: prohibited
  assert.throws(() => saslPrep('a\u0085b'), SaslPrepError); // C1 control
  assert.throws(() => saslPrep('a\ud800b'), SaslPrepError); // lone surrogate
  assert.throws(() => saslPrep('\u00ad'), SaslPrepError); // empty after mapping
  const creds = await deriveCredentials('\uff50\uff41\uff53\uff53', 64); // fullwidth "pass"
  assert.equal(await verifyPassword(creds, 'pass'), true);
});

test('rejects bad input', async () => {
  await assert.rejects(deriveCredentials('a\u0000b', 64), SaslPrepError);
  await assert.rejects(deriveCredentials('pencil', 0), RangeError);
  await assert.rejects(deriveCredentials('pencil', 1.5), RangeError);
});
