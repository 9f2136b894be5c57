import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Jid, JidError, isValidJid, normalizeDomain, normalizeLocal, normalizeResource } from './jid';

function parts(s: string): [string | undefined, string, string | undefined] {
  const j = Jid.parse(s);
  return [j.local, j.domain, j.resource];
}

function rejects(s: string): void {
  assert.throws(() => Jid.parse(s), JidError, JSON.stringify(s));
  assert.equal(Jid.tryParse(s), undefined);
  assert.equal(isValidJid(s), false);
}

test('parses bare, full and domain JIDs', () => {
  assert.deepEqual(parts('juliet@example.com'), ['juliet', 'example.com', undefined]);
  assert.deepEqual(parts('juliet@example.com/balcony'), ['juliet', 'example.com', 'balcony']);
  assert.deepEqual(parts('example.com'), [undefined, 'example.com', undefined]);
  assert.deepEqual(parts('example.com/resource'), [undefined, 'example.com', 'resource']);
  assert.deepEqual(parts('localhost'), [undefined, 'localhost', undefined]);
});

test('isBare, isFull and isDomain', () => {
  const full = Jid.parse('juliet@example.com/balcony');
  const bare = Jid.parse('juliet@example.com');
  const domain = Jid.parse('example.com');
  const domainFull = Jid.parse('example.com/x');
  assert.deepEqual([full.isBare, full.isFull, full.isDomain], [false, true, false]);
  assert.deepEqual([bare.isBare, bare.isFull, bare.isDomain], [true, false, false]);
  assert.deepEqual([domain.isBare, domain.isFull, domain.isDomain], [true, false, true]);
  assert.deepEqual([domainFull.isBare, domainFull.isFull, domainFull.isDomain], [false, true, false]);
});

test('the first / splits off the resource, which may contain / and @ (RFC 7622 §3.1)', () => {
  assert.deepEqual(parts('juliet@example.com/foo/bar'), ['juliet', 'example.com', 'foo/bar']);
  assert.deepEqual(parts('juliet@example.com/a@b.c/d'), ['juliet', 'example.com', 'a@b.c/d']);
  assert.deepEqual(parts('example.com/@'), [undefined, 'example.com', '@']);
  assert.deepEqual(parts('example.com//'), [undefined, 'example.com', '/']);
});

test('resource keeps case and spaces, and maps non-ASCII spaces to ASCII space (RFC 8265 §4.2)', () => {
  assert.equal(Jid.parse('a@b.c/Balcony Room').resource, 'Balcony Room');
  assert.equal(Jid.parse('a@b.c/ x ').resource, ' x ');
  assert.equal(Jid.parse('a@b.c/x\u00a0y\u3000z').resource, 'x y z');
  assert.equal(Jid.parse('a@b.c/Ｘ').resource, 'Ｘ'); // OpaqueString does no width mapping
});

test('resource is NFC-normalised', () => {
  assert.equal(Jid.parse('a@b.c/e\u0301').resource, '\u00e9');
});

test('resource with control characters is rejected', () => {
  rejects('a@b.c/x\u0000');
  rejects('a@b.c/x\u0007y');
  rejects('a@b.c/x\u007f');
  rejects('a@b.c/line\nbreak');
  rejects('a@b.c/x\u0085'); // C1 controls too (FreeformClass disallows all of Cc)
  rejects('a\u0080b@example.com');
});

test('localpart is case-folded and width-mapped (UsernameCaseMapped, RFC 8265 §3.3)', () => {
  assert.equal(Jid.parse('Juliet@example.com').local, 'juliet');
  assert.equal(Jid.parse('JULIET@example.com').toString(), 'juliet@example.com');
  assert.equal(Jid.parse('Ｊｕｌｉｅｔ@example.com').local, 'juliet'); // fullwidth letters
  assert.equal(Jid.parse('ÉLODIE@example.com').local, 'élodie');
  assert.equal(Jid.parse('e\u0301@example.com').local, '\u00e9'); // NFC
});

for (const c of ['"', '&', "'", '/', ':', '<', '>', '@', ' ']) {
  test(`localpart may not contain ${JSON.stringify(c)} (RFC 7622 §3.3.1)`, () => {
    assert.throws(() => normalizeLocal(`ju${c}liet`), JidError);
    if (c !== '/' && c !== '@') rejects(`ju${c}liet@example.com`);
  });
}

test('a forbidden localpart character is rejected also when width-mapped into it', () => {
  rejects('a＠b@example.com'); // U+FF20 fullwidth commercial at → '@'
  rejects('a＜b@example.com'); // U+FF1C fullwidth less-than → '<'
  rejects('a\u3000b@example.com'); // ideographic space → space
  rejects('a\tb@example.com');
});

test('empty parts are errors', () => {
  for (const s of ['', '@example.com', 'juliet@', 'example.com/', 'juliet@example.com/', '/resource', 'juliet@/r', '@', '/', '@/']) {
    rejects(s);
  }
});

test('the domain is lowercased and one trailing dot is stripped (RFC 7622 §3.2)', () => {
  assert.equal(Jid.parse('juliet@EXAMPLE.COM').domain, 'example.com');
  assert.equal(Jid.parse('juliet@example.com.').domain, 'example.com');
  assert.equal(Jid.parse('juliet@example.com./r').toString(), 'juliet@example.com/r');
  assert.equal(Jid.parse('Example.COM.').toString(), 'example.com');
  rejects('example.com..');
  rejects('.');
  rejects('juliet@.');
});

test('IDN domains keep their U-label form', () => {
  assert.equal(Jid.parse('ÉXAMPLE.com').domain, 'éxample.com');
  assert.equal(Jid.parse('juliet@Bücher.example').domain, 'bücher.example');
  assert.equal(Jid.parse('例え.テスト').domain, '例え.テスト');
  assert.equal(Jid.parse('e\u0301xample.com').domain, 'éxample.com'); // NFC
});

test('domains are width-mapped and ideographic full stops become dots (RFC 7622 §3.2.2)', () => {
  assert.equal(Jid.parse('ｅｘａｍｐｌｅ.com').domain, 'example.com');
  assert.equal(Jid.parse('example。com').domain, 'example.com');
  assert.equal(Jid.parse('example．com').domain, 'example.com');
  assert.ok(Jid.parse('a@ＥＸＡＭＰＬＥ.com').equals(Jid.parse('a@example.com')));
});

test('invalid domains are rejected', () => {
  for (const s of [
    'exam ple.com',
    ' example.com',
    'a..b',
    '.example.com',
    `${'x'.repeat(64)}.com`,
    'exa\tmple.com',
    'exa\nmple.com',
    'example.com\u0000',
    '-example.com',
    'example-.com',
    'xn--a.com', // not valid punycode
    'exa_mple<.com',
  ]) {
    rejects(s);
  }
  assert.equal(Jid.parse(`${'x'.repeat(63)}.com`).domain, `${'x'.repeat(63)}.com`);
});

test('domains that a URL parser would read as something else are rejected', () => {
  for (const s of [
    'juliet@b@c', // a second @ (URL userinfo)
    'juliet@example.com:5222', // a port
    'example.com?x',
    'example.com#x',
    'ex%61mple.com', // percent-escapes
    'a\\b.com', // backslash is a path separator in URLs
    'user:pass@host',
    '0x7f.1', // rewritten to 127.0.0.1 by the URL parser
    '1.2.3',
    'exa[mple.com',
  ]) {
    rejects(s);
  }
});

test('IPv4 and IPv6 address domains', () => {
  assert.equal(Jid.parse('juliet@127.0.0.1/r').domain, '127.0.0.1');
  assert.deepEqual(parts('juliet@[::1]/r'), ['juliet', '[::1]', 'r']);
  assert.equal(Jid.parse('[2001:DB8::1]').domain, '[2001:db8::1]');
  assert.equal(Jid.parse('[2001:db8:0:0:0:0:0:1]').domain, '[2001:db8::1]'); // canonical form, for comparison
  assert.ok(Jid.parse('a@[::1]').equals(Jid.parse('a@[0:0::1]')));
  for (const s of ['[::1', '[:::::]', '[g::1]', '[::1]x', '[]', 'a@[example.com]', '[::1]:5222']) rejects(s);
});

test('parts longer than 1023 bytes are rejected (RFC 7622 §3.1)', () => {
  assert.equal(Jid.parse(`${'a'.repeat(1023)}@example.com`).local!.length, 1023);
  rejects(`${'a'.repeat(1024)}@example.com`);
  // Bytes, not characters: 512 × 'é' is 1024 bytes in UTF-8.
  rejects(`${'é'.repeat(512)}@example.com`);
  assert.equal(Jid.parse(`a@b.c/${'r'.repeat(1023)}`).resource!.length, 1023);
  rejects(`a@b.c/${'r'.repeat(1024)}`);
  rejects(`a@b.c/${'€'.repeat(342)}`); // 1026 bytes
  const label = 'a'.repeat(63);
  const longDomain = Array.from({ length: 17 }, () => label).join('.'); // 17 × 64 - 1 = 1087 bytes
  assert.throws(() => normalizeDomain(longDomain), JidError);
});

test('toString round trip', () => {
  for (const s of ['juliet@example.com/balcony', 'juliet@example.com', 'example.com', 'example.com/r', 'a@[::1]/x/y@z', 'élodie@éxample.com/Ré']) {
    assert.equal(Jid.parse(s).toString(), s);
    assert.equal(Jid.parse(Jid.parse(s).toString()).toString(), s);
    assert.equal(`${Jid.parse(s)}`, s);
  }
});

test('bare() drops the resource and returns the same instance for a bare JID', () => {
  const full = Jid.parse('juliet@example.com/balcony');
  const bare = full.bare();
  assert.equal(bare.toString(), 'juliet@example.com');
  assert.equal(bare.resource, undefined);
  assert.equal(full.resource, 'balcony'); // immutable
  assert.equal(bare.bare(), bare);
  assert.equal(Jid.parse('example.com/r').bare().toString(), 'example.com');
  assert.equal(full.toBareString(), 'juliet@example.com');
});

test('withResource returns a new full JID with a normalised resource', () => {
  const bare = Jid.parse('juliet@example.com');
  const full = bare.withResource('e\u0301');
  assert.equal(full.toString(), 'juliet@example.com/\u00e9');
  assert.equal(bare.toString(), 'juliet@example.com');
  assert.throws(() => bare.withResource(''), JidError);
});

test('equals and bareEquals compare normalised forms', () => {
  const a = Jid.parse('Juliet@Example.com/balcony');
  const b = Jid.parse('juliet@example.com./balcony');
  assert.ok(a.equals(b));
  assert.ok(!a.equals(Jid.parse('juliet@example.com/Balcony'))); // resources are case-sensitive
  assert.ok(!a.equals(Jid.parse('juliet@example.com')));
  assert.ok(!a.equals(undefined));
  assert.ok(a.bareEquals(Jid.parse('JULIET@example.com/other')));
  assert.ok(a.bareEquals(Jid.parse('juliet@example.com')));
  assert.ok(!a.bareEquals(Jid.parse('romeo@example.com')));
  assert.ok(!a.bareEquals(undefined));
  // A domain JID is not equal to a user JID at that domain.
  assert.ok(!Jid.parse('example.com').equals(Jid.parse('example@com')));
});

test('Jid.of builds from already normalised parts without re-validating', () => {
  const j = Jid.of('juliet', 'example.com', 'balcony');
  assert.equal(j.toString(), 'juliet@example.com/balcony');
  assert.ok(j.equals(Jid.parse('juliet@example.com/balcony')));
  assert.equal(Jid.of(undefined, 'example.com').toString(), 'example.com');
});

test('tryParse returns undefined for undefined and invalid input', () => {
  assert.equal(Jid.tryParse(undefined), undefined);
  assert.equal(Jid.tryParse('@'), undefined);
  assert.equal(Jid.tryParse('a@b.c')?.toString(), 'a@b.c');
});

test('JidError carries the jid-malformed condition', () => {
  try {
    Jid.parse('a@');
    assert.fail('expected a JidError');
  } catch (err) {
    assert.ok(err instanceof JidError);
    assert.ok(err instanceof Error);
    assert.equal(err.condition, 'jid-malformed');
  }
});

test('normalize* helpers', () => {
  assert.equal(normalizeLocal('ＡＢＣ'), 'abc');
  assert.throws(() => normalizeLocal(''), JidError);
  assert.equal(normalizeDomain('EXAMPLE.COM.'), 'example.com');
  assert.throws(() => normalizeDomain(''), JidError);
  assert.equal(normalizeResource('Home'), 'Home');
  assert.throws(() => normalizeResource(''), JidError);
});

// RFC 7622 §3.5 (examples), prepared with the PRECIS profiles of RFC 8265 (UsernameCaseMapped, OpaqueString) and UTS #46.
test('RFC 7622 §3.5.1: the valid examples parse, in their prepared form', () => {
  assert.deepEqual(parts('juliet@example.com/foo bar'), ['juliet', 'example.com', 'foo bar']);
  assert.deepEqual(parts('juliet@example.com/foo@bar'), ['juliet', 'example.com', 'foo@bar']);
  assert.deepEqual(parts('foo\\20bar@example.com'), ['foo\\20bar', 'example.com', undefined]);
  assert.deepEqual(parts('fussball@example.com'), ['fussball', 'example.com', undefined]);
  assert.deepEqual(parts('fußball@example.com'), ['fußball', 'example.com', undefined]);
  assert.deepEqual(parts('π@example.com'), ['π', 'example.com', undefined]);
  assert.deepEqual(parts('Σ@example.com/foo'), ['σ', 'example.com', 'foo']);
  assert.deepEqual(parts('ς@example.com/foo'), ['ς', 'example.com', 'foo']);
  assert.deepEqual(parts('king@example.com/♚'), ['king', 'example.com', '♚']);
  assert.deepEqual(parts('a.example.com/b@example.net'), [undefined, 'a.example.com', 'b@example.net']);
});

test('RFC 7622 §3.5.2: the invalid examples are refused', () => {
  for (const s of ['"juliet"@example.com', 'foo bar@example.com', 'juliet@example.com/', '@example.com/', 'henry\u2163@example.com', '♚@example.com', 'juliet@', '/foobar']) {
    rejects(s);
  }
});

test('look-alike localparts are refused (RFC 8265 §3.3 IdentifierClass), whatever the invisible character', () => {
  // zero-width space, soft hyphen, word joiner, right-to-left override, replacement character, zero-width joiner,
  // BOM, a variation selector, a noncharacter, an unassigned code point, an old Hangul jamo, fullwidth-looking ligature.
  for (const c of ['\u200b', '\u00ad', '\u2060', '\u202e', '\ufffd', '\u200d', '\ufeff', '\ufe0f', '\ufdd0', '\u0378', '\u1100', '\ufb01']) {
    rejects(`alice${c}@example.com`);
    assert.throws(() => normalizeLocal(`ali${c}ce`), JidError, JSON.stringify(c));
  }
  // Width mapping (RFC 8265 §3.3.2): a fullwidth spelling is the same account, not a look-alike.
  assert.equal(normalizeLocal('ＡＬＩＣＥ'), 'alice');
});

test('localparts follow the contextual rules and the Bidi Rule (RFC 5892 Appendix A, RFC 5893)', () => {
  assert.equal(normalizeLocal('l·l'), 'l·l'); // A.3 middle dot between two l
  assert.throws(() => normalizeLocal('a·b'), JidError);
  assert.equal(normalizeLocal('\u0375γ'), '\u0375γ'); // A.4 keraia before Greek
  assert.throws(() => normalizeLocal('\u0375a'), JidError);
  assert.equal(normalizeLocal('\u0915\u094d\u200d'), '\u0915\u094d\u200d'); // A.2 ZWJ after a virama
  assert.equal(normalizeLocal('שלום'), 'שלום');
  assert.equal(normalizeLocal('سلام123'), 'سلام123'); // rule 3: may end in EN
  assert.throws(() => normalizeLocal('שalom'), JidError); // rule 2: L in an RTL string
  assert.throws(() => normalizeLocal('1שלום'), JidError); // rule 1: must start with R or AL
  assert.throws(() => normalizeLocal('\u0661\u06f1'), JidError); // A.8/A.9: the two Arabic digit sets mixed
});

test('resourceparts are OpaqueString (RFC 8265 §4.2): spaces mapped, case kept, invisible characters refused', () => {
  assert.equal(normalizeResource('Foo\u3000Bar'), 'Foo Bar');
  assert.equal(normalizeResource('ＦＵＬＬ'), 'ＦＵＬＬ'); // no width mapping for OpaqueString
  for (const c of ['\u200b', '\u00ad', '\u202e', '\u0007', '\ufdd0']) assert.throws(() => normalizeResource(`res${c}`), JidError, JSON.stringify(c));
});

test('domainparts are mapped with UTS #46 and kept as U-labels, so one domain has one spelling (RFC 7622 §3.2)', () => {
  assert.equal(normalizeDomain('exa\u00admple.com'), 'example.com'); // the soft hyphen maps to nothing
  assert.equal(normalizeDomain('xn--bcher-kva.example'), 'bücher.example');
  assert.equal(normalizeDomain('BÜCHER.example'), 'bücher.example');
  assert.equal(Jid.parse('juliet@xn--bcher-kva.example').toString(), Jid.parse('juliet@bücher.example').toString());
  for (const d of ['a\u200db.example', '1\u05d0.example', 'xn--zz.example']) assert.throws(() => normalizeDomain(d), JidError, JSON.stringify(d));
});
