// PRECIS (RFC 8264) derived properties and the RFC 8265 profiles, with the RFCs' own examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrecisError, derivedProperty, enforceOpaqueString, enforceUsernameCaseMapped } from './precis';

test('derived properties follow RFC 8264 §8 (spot checks against the IANA PRECIS table)', () => {
  const cases: [number, string][] = [
    [0x61, 'PVALID'], [0x20, 'ID_DIS'], [0x09, 'DISALLOWED'], [0xdf, 'PVALID'], [0xb7, 'CONTEXTO'], [0x200c, 'CONTEXTJ'],
    [0x200b, 'DISALLOWED'], [0xad, 'DISALLOWED'], [0x2060, 'DISALLOWED'], [0x202e, 'DISALLOWED'], [0xfffd, 'ID_DIS'],
    [0xff21, 'ID_DIS'], [0x2163, 'ID_DIS'], [0x265a, 'ID_DIS'], [0x0378, 'UNASSIGNED'], [0xfdd0, 'DISALLOWED'],
    [0x1100, 'DISALLOWED'], [0x0640, 'DISALLOWED'], [0x03c0, 'PVALID'], [0x05d0, 'PVALID'], [0x0915, 'PVALID'],
  ];
  for (const [cp, property] of cases) assert.equal(derivedProperty(cp), property, `U+${cp.toString(16)}`);
});

test('UsernameCaseMapped: RFC 8265 §3.5 examples', () => {
  assert.equal(enforceUsernameCaseMapped('juliet@example.com'), 'juliet@example.com'); // valid PRECIS; RFC 7622 forbids '@' later
  assert.equal(enforceUsernameCaseMapped('fussball'), 'fussball');
  assert.equal(enforceUsernameCaseMapped('fußball'), 'fußball');
  assert.equal(enforceUsernameCaseMapped('π'), 'π');
  assert.equal(enforceUsernameCaseMapped('Σ'), 'σ');
  assert.equal(enforceUsernameCaseMapped('σ'), 'σ');
  assert.equal(enforceUsernameCaseMapped('ς'), 'ς');
  assert.equal(enforceUsernameCaseMapped('ＪＵＬＩＥＴ'), 'juliet');
  for (const bad of ['foo bar', '', '♚', 'henry\u2163', '\ufb00']) assert.throws(() => enforceUsernameCaseMapped(bad), PrecisError, JSON.stringify(bad));
});

test('OpaqueString: RFC 8265 §4.3 examples', () => {
  assert.equal(enforceOpaqueString('correct horse battery staple'), 'correct horse battery staple');
  assert.equal(enforceOpaqueString('Correct Horse Battery Staple'), 'Correct Horse Battery Staple');
  assert.equal(enforceOpaqueString('πßå'), 'πßå');
  assert.equal(enforceOpaqueString('Jack of ♦s'), 'Jack of ♦s');
  assert.equal(enforceOpaqueString('foo\u1680bar'), 'foo bar'); // OGHAM SPACE MARK → SPACE
  assert.throws(() => enforceOpaqueString('my cat is a \u0009by'), PrecisError); // a control character
  assert.throws(() => enforceOpaqueString(''), PrecisError);
  assert.equal(enforceOpaqueString('A\u030a'), '\u00c5'); // NFC
});

test('the Bidi Rule uses the real Bidi_Class of letters that are not L (modifier letters are ON)', () => {
  assert.equal(enforceUsernameCaseMapped('\u05d0\u02cc\u05d1'), '\u05d0\u02cc\u05d1'); // ON inside RTL text: allowed
  assert.throws(() => enforceUsernameCaseMapped('\u05d0b'), PrecisError); // L inside RTL text: rule 2
  assert.throws(() => enforceUsernameCaseMapped('\u05d0\u200d'), PrecisError); // ZWJ not after a virama
});
