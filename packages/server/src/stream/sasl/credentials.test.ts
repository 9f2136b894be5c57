import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_ITERATIONS, SaslPrepError, deriveCredentials, deriveFromPrepared, hasWeakerKeys, matchPassword, preparePassword, saslPrep, verifyPassword } from './credentials';

test('the default iteration count follows current guidance (OWASP: 600,000 for PBKDF2-HMAC-SHA256)', () => {
  assert.ok(DEFAULT_ITERATIONS >= 600_000);
});

test('derives keys for both hashes, never the password', async () => {
  const creds = await deriveCredentials('pencil', 4096);
  for (const [mech, size] of [['SCRAM-SHA-1', 20], ['SCRAM-SHA-256', 32]] as const) {
    const keys = creds[mech];
    assert.equal(keys.iterations, 4096);
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
  // Keys made before passwords were OpaqueString (SASLprep-ed, NFKC) still verify, and say which form matched.
  const legacy = await deriveFromPrepared(saslPrep('\uff50\uff41\uff53\uff53'), 64); // fullwidth "pass"
  assert.equal(await matchPassword(legacy, '\uff50\uff41\uff53\uff53'), 'pass');
  assert.equal(await verifyPassword(legacy, 'pass'), true);
});

test('new passwords are OpaqueString (RFC 8265 §4.2, §4.3 examples), and never prepared differently by SASLprep', async () => {
  assert.equal(preparePassword('correct horse battery staple'), 'correct horse battery staple');
  assert.equal(preparePassword('Correct Horse Battery Staple'), 'Correct Horse Battery Staple');
  assert.equal(preparePassword('πßå'), 'πßå');
  assert.equal(preparePassword('Jack of ♦s'), 'Jack of ♦s');
  assert.equal(preparePassword('foo\u1680bar'), 'foo bar');
  assert.throws(() => preparePassword('my cat is a \u0009by'), SaslPrepError);
  // Invisible characters SASLprep silently dropped are refused now (two passwords would otherwise be one).
  for (const c of ['\u00ad', '\u200b', '\u2060', '\ufeff']) assert.throws(() => preparePassword(`pass${c}word`), SaslPrepError);
  // NFKC (SASLprep, what most SCRAM clients apply) and NFC (OpaqueString) disagree: refused, not stored ambiguously.
  assert.throws(() => preparePassword('\uff50\uff41\uff53\uff53'), SaslPrepError);
  assert.throws(() => preparePassword('\u2168'), SaslPrepError);
  await assert.rejects(deriveCredentials('pass\u200bword', 64), SaslPrepError);
});

test('hasWeakerKeys compares both hashes with the configured count', async () => {
  const creds = await deriveCredentials('pencil', 64);
  assert.equal(hasWeakerKeys(creds, 64), false);
  assert.equal(hasWeakerKeys(creds, 65), true);
  assert.equal(hasWeakerKeys({ ...creds, 'SCRAM-SHA-1': { ...creds['SCRAM-SHA-1'], iterations: 32 } }, 64), true);
});

test('rejects bad input', async () => {
  await assert.rejects(deriveCredentials('a\u0000b', 64), SaslPrepError);
  await assert.rejects(deriveCredentials('pencil', 0), RangeError);
  await assert.rejects(deriveCredentials('pencil', 1.5), RangeError);
});
