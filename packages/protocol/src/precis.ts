// PRECIS (RFC 8264) string classes and the profiles XMPP uses (RFC 8265, RFC 7622 §3.3 and §3.4):
// UsernameCaseMapped for localparts, OpaqueString for resourceparts and passwords. No npm library implements
// PRECIS with the care these need, so the derived property of RFC 8264 §8 is computed here from the Unicode data
// that RegExp property escapes give (General_Category, Default_Ignorable_Code_Point, Noncharacter_Code_Point,
// Script), for whatever Unicode version the JavaScript engine carries (PRECIS is version-agile, RFC 8264 §11).
// No node:* imports: the web app and the CLI share this file.

export class PrecisError extends Error {}

/** RFC 8264 §8 values; 'ID_DIS' stands for "ID_DIS or FREE_PVAL": disallowed in identifiers, valid in free-form strings. */
export type DerivedProperty = 'PVALID' | 'CONTEXTJ' | 'CONTEXTO' | 'ID_DIS' | 'DISALLOWED' | 'UNASSIGNED';

/** RFC 8264 §9.6 Exceptions (the table of RFC 5892 §2.6). */
const EXCEPTIONS = new Map<number, DerivedProperty>([
  ...[0x00df, 0x03c2, 0x06fd, 0x06fe, 0x0f0b, 0x3007].map((cp) => [cp, 'PVALID'] as const),
  ...[0x00b7, 0x0375, 0x05f3, 0x05f4, 0x30fb].map((cp) => [cp, 'CONTEXTO'] as const),
  ...range(0x0660, 0x0669).map((cp) => [cp, 'CONTEXTO'] as const),
  ...range(0x06f0, 0x06f9).map((cp) => [cp, 'CONTEXTO'] as const),
  ...[0x0640, 0x07fa, 0x302e, 0x302f, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303b].map((cp) => [cp, 'DISALLOWED'] as const),
]);

const UNASSIGNED = /^\p{Cn}$/u;
const NONCHARACTER = /^\p{Noncharacter_Code_Point}$/u;
// §9.13 PrecisIgnorableProperties: Default_Ignorable_Code_Point or Noncharacter_Code_Point. This is what refuses
// zero-width spaces and joiners outside their contexts, soft hyphens, word joiners and bidi overrides.
const IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]$/u;
const CONTROL = /^\p{Cc}$/u;
const LETTER_DIGIT = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u; // §9.1
const OTHER_LETTER_DIGIT = /^[\p{Lt}\p{Nl}\p{No}\p{Me}]$/u; // §9.18
const SPACE = /^\p{Zs}$/u; // §9.14
const SYMBOL = /^[\p{Sm}\p{Sc}\p{Sk}\p{So}]$/u; // §9.15
const PUNCTUATION = /^\p{P}$/u; // §9.16

/** §9.9 OldHangulJamo: Hangul_Syllable_Type L, V or T (RegExp has no escape for that property). */
function isOldHangulJamo(cp: number): boolean {
  return (cp >= 0x1100 && cp <= 0x11ff) || (cp >= 0xa960 && cp <= 0xa97c) || (cp >= 0xd7b0 && cp <= 0xd7c6) || (cp >= 0xd7cb && cp <= 0xd7fb);
}

/** RFC 8264 §8: the derived property of one code point, the rules tried in the order the RFC gives. */
export function derivedProperty(cp: number): DerivedProperty {
  const exception = EXCEPTIONS.get(cp);
  if (exception) return exception;
  // §9.7 BackwardCompatible is empty.
  const ch = String.fromCodePoint(cp);
  if (UNASSIGNED.test(ch) && !NONCHARACTER.test(ch)) return 'UNASSIGNED';
  if (cp >= 0x21 && cp <= 0x7e) return 'PVALID'; // §9.11 ASCII7
  if (cp === 0x200c || cp === 0x200d) return 'CONTEXTJ'; // §9.8 JoinControl
  if (isOldHangulJamo(cp)) return 'DISALLOWED';
  if (IGNORABLE.test(ch)) return 'DISALLOWED';
  if (CONTROL.test(ch)) return 'DISALLOWED';
  // §9.17 HasCompat: a compatibility equivalent exists (fullwidth forms, ligatures, superscripts...).
  if (ch.normalize('NFKC') !== ch) return 'ID_DIS';
  if (LETTER_DIGIT.test(ch)) return 'PVALID';
  if (OTHER_LETTER_DIGIT.test(ch) || SPACE.test(ch) || SYMBOL.test(ch) || PUNCTUATION.test(ch)) return 'ID_DIS';
  return 'DISALLOWED';
}

// RFC 5892 Appendix A, the contextual rules of CONTEXTJ and CONTEXTO code points.
// Canonical_Combining_Class=Virama (9), which RegExp cannot ask for: the viramas up to Unicode 15 (a joiner after a
// virama of a newer script is refused, the conservative side).
const VIRAMAS = new Set([
  0x094d, 0x09cd, 0x0a4d, 0x0acd, 0x0b4d, 0x0bcd, 0x0c4d, 0x0ccd, 0x0d3b, 0x0d3c, 0x0d4d, 0x0dca, 0x0e3a, 0x0eba, 0x0f84,
  0x1039, 0x103a, 0x1714, 0x1715, 0x1734, 0x17d2, 0x1a60, 0x1b44, 0x1baa, 0x1bab, 0x1bf2, 0x1bf3, 0x2d7f, 0xa806, 0xa82c,
  0xa8c4, 0xa953, 0xa9c0, 0xaaf6, 0xabed, 0x10a3f, 0x11046, 0x11070, 0x1107f, 0x110b9, 0x11133, 0x11134, 0x111c0,
  0x11235, 0x112ea, 0x1134d, 0x11442, 0x114c2, 0x115bf, 0x1163f, 0x116b6, 0x1172b, 0x11839, 0x1193d, 0x1193e, 0x119e0,
  0x11a34, 0x11a47, 0x11a99, 0x11c3f, 0x11d44, 0x11d45, 0x11d97, 0x11f41, 0x11f42,
]);
const GREEK = /^\p{Script=Greek}$/u;
const HEBREW = /^\p{Script=Hebrew}$/u;
const KANA_HAN = /^[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]$/u;

function contextHolds(cps: number[], i: number): boolean {
  const cp = cps[i]!;
  const before = cps[i - 1];
  const after = cps[i + 1];
  const char = (c: number | undefined) => (c === undefined ? '' : String.fromCodePoint(c));
  switch (cp) {
    // A.1 ZERO WIDTH NON-JOINER, A.2 ZERO WIDTH JOINER: after a virama. A.1's other branch needs the Arabic
    // Joining_Type, which RegExp cannot give either: a ZWNJ between joining letters is refused (conservatively).
    case 0x200c:
    case 0x200d:
      return before !== undefined && VIRAMAS.has(before);
    case 0x00b7: // A.3 MIDDLE DOT: between two 'l' (Catalan l·l)
      return before === 0x6c && after === 0x6c;
    case 0x0375: // A.4 GREEK LOWER NUMERAL SIGN: followed by Greek
      return GREEK.test(char(after));
    case 0x05f3: // A.5, A.6 HEBREW PUNCTUATION GERESH and GERSHAYIM: preceded by Hebrew
    case 0x05f4:
      return HEBREW.test(char(before));
    case 0x30fb: // A.9 KATAKANA MIDDLE DOT: with at least one Hiragana, Katakana or Han character
      return cps.some((c) => c !== 0x30fb && KANA_HAN.test(char(c)));
    default:
      // A.8 ARABIC-INDIC DIGITS and A.9 EXTENDED ARABIC-INDIC DIGITS must not be mixed.
      if (cp >= 0x0660 && cp <= 0x0669) return !cps.some((c) => c >= 0x06f0 && c <= 0x06f9);
      if (cp >= 0x06f0 && cp <= 0x06f9) return !cps.some((c) => c >= 0x0660 && c <= 0x0669);
      return false;
  }
}

function describe(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** RFC 8264 §9.1 (IdentifierClass) and §9.2 (FreeformClass): every code point valid, contextual ones in context. */
function enforceClass(s: string, cls: 'identifier' | 'freeform'): void {
  const cps = Array.from(s, (c) => c.codePointAt(0)!);
  cps.forEach((cp, i) => {
    const p = derivedProperty(cp);
    if (p === 'PVALID' || (p === 'ID_DIS' && cls === 'freeform')) return;
    if ((p === 'CONTEXTJ' || p === 'CONTEXTO') && contextHolds(cps, i)) return;
    const why = p === 'UNASSIGNED' ? 'unassigned' : p === 'CONTEXTJ' || p === 'CONTEXTO' ? 'not allowed in this context' : 'not allowed';
    throw new PrecisError(`${describe(cp)} is ${why}`);
  });
}

// --- RFC 5893 Bidi Rule, for UsernameCaseMapped (RFC 8265 §3.3.1 directionality rule) ---

type BidiClass = 'L' | 'R' | 'AN' | 'EN' | 'ES' | 'CS' | 'ET' | 'ON' | 'BN' | 'NSM';

const RTL_SCRIPT = new RegExp(
  '^[' +
    ['Hebrew', 'Arabic', 'Syriac', 'Thaana', 'Nko', 'Samaritan', 'Mandaic', 'Adlam', 'Hanifi_Rohingya', 'Mende_Kikakui',
      'Imperial_Aramaic', 'Phoenician', 'Kharoshthi', 'Old_South_Arabian', 'Old_North_Arabian', 'Avestan',
      'Inscriptional_Parthian', 'Inscriptional_Pahlavi', 'Psalter_Pahlavi', 'Old_Turkic', 'Manichaean', 'Nabataean',
      'Palmyrene', 'Hatran', 'Elymaic', 'Old_Sogdian', 'Sogdian', 'Chorasmian', 'Lydian', 'Meroitic_Cursive',
      'Meroitic_Hieroglyphs', 'Cypriot', 'Old_Hungarian', 'Yezidi', 'Old_Uyghur']
      .map((s) => `\\p{Script=${s}}`)
      .join('') +
    ']$',
  'u',
);
const NSM = /^[\p{Mn}\p{Me}]$/u;
// The code points IdentifierClass allows whose Bidi_Class the rules below would get wrong (checked against the
// Unicode Character Database for every PVALID and contextual code point of Unicode 14): modifier letters and
// punctuation-like letters that are ON, spacing marks that are L, joiners that are BN.
const BIDI_OVERRIDES = new Map<number, BidiClass>([
  ...[0xb7, 0x2b9, 0x2ba, ...range(0x2c6, 0x2cf), 0x2ec, 0x375, 0x2e2f, 0x30fb, 0xa67f, ...range(0xa717, 0xa71f), 0xa788]
    .map((cp) => [cp, 'ON'] as const),
  ...[0xcbf, 0xcc6, 0x11a07, 0x11a08, 0x11c3f].map((cp) => [cp, 'L'] as const),
  [0x200c, 'BN'],
  [0x200d, 'BN'],
  [0x1171e, 'NSM'],
]);

/**
 * The Bidi_Class of a code point that already passed IdentifierClass. RegExp has no Bidi_Class escape, so it is
 * derived: IdentifierClass leaves only letters, digits, marks and ASCII, whose classes follow from the script
 * (R/AL for the right-to-left scripts, L otherwise), the general category (NSM) and a few fixed ranges.
 */
function bidiClass(cp: number): BidiClass {
  const override = BIDI_OVERRIDES.get(cp);
  if (override) return override;
  if (cp < 0x80) {
    if (cp >= 0x30 && cp <= 0x39) return 'EN';
    if ((cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) return 'L';
    if (cp === 0x2b || cp === 0x2d) return 'ES';
    if (cp === 0x2c || cp === 0x2e || cp === 0x2f || cp === 0x3a) return 'CS';
    if (cp === 0x23 || cp === 0x24 || cp === 0x25) return 'ET';
    return 'ON';
  }
  const ch = String.fromCodePoint(cp);
  if (NSM.test(ch)) return 'NSM';
  if ((cp >= 0x0660 && cp <= 0x0669) || cp === 0x066b || cp === 0x066c || (cp >= 0x0600 && cp <= 0x0605) || cp === 0x06dd ||
    cp === 0x0890 || cp === 0x0891 || cp === 0x08e2 || (cp >= 0x10d30 && cp <= 0x10d39) || (cp >= 0x10e60 && cp <= 0x10e7e)) {
    return 'AN';
  }
  if (cp >= 0x06f0 && cp <= 0x06f9) return 'EN';
  return RTL_SCRIPT.test(ch) ? 'R' : 'L';
}

/** RFC 5893 §2, applied to strings holding a right-to-left character (RFC 8265 §3.3.1). */
function enforceBidiRule(s: string): void {
  const classes = Array.from(s, (c) => bidiClass(c.codePointAt(0)!));
  if (!classes.some((c) => c === 'R' || c === 'AN')) return;
  const fail = (rule: number) => {
    throw new PrecisError(`mixes right-to-left and left-to-right text against the Bidi Rule (RFC 5893 §2 rule ${rule})`);
  };
  if (classes[0] !== 'R') fail(1); // an RTL string must start with R or AL
  if (classes.some((c) => c === 'L')) fail(2);
  const last = [...classes].reverse().find((c) => c !== 'NSM');
  if (last !== 'R' && last !== 'EN' && last !== 'AN') fail(3);
  if (classes.includes('EN') && classes.includes('AN')) fail(4);
}

// --- Profiles ---

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const ASCII_WITH_SPACE = /^[\x20-\x7e]+$/;

/** RFC 8265 §3.3.2 width mapping: fullwidth and halfwidth forms to their decomposition. */
function widthMap(s: string): string {
  return s.replace(/[\uff01-\uffef]/g, (c) => c.normalize('NFKC'));
}

/**
 * RFC 8265 §3.3 UsernameCaseMapped (RFC 7622 §3.3: JID localparts): width mapping, lowercase, NFC, the Bidi Rule,
 * then IdentifierClass. Applied until stable (RFC 8264 §7, RFC 8265 errata): a second pass must change nothing.
 */
export function enforceUsernameCaseMapped(input: string): string {
  // Printable ASCII (the usual localpart): width mapping and NFC change nothing, every character is PVALID
  // (§9.11 ASCII7) and none is right-to-left, so the profile is exactly lowercasing. Skips the per-code-point
  // Unicode property tests, which cost tens of µs per string (a login parses several JIDs).
  if (PRINTABLE_ASCII.test(input)) return input.toLowerCase();
  const once = (s: string) => widthMap(s).toLowerCase().normalize('NFC');
  const out = once(input);
  if (out.length === 0) throw new PrecisError('empty');
  if (once(out) !== out) throw new PrecisError('not stable under the UsernameCaseMapped rules');
  enforceClass(out, 'identifier');
  enforceBidiRule(out);
  return out;
}

/**
 * RFC 8265 §4.2 OpaqueString (RFC 7622 §3.4 resourceparts; passwords): non-ASCII spaces to U+0020, NFC, then
 * FreeformClass. Case and width are kept.
 */
export function enforceOpaqueString(input: string): string {
  // ASCII letters, digits, punctuation and U+0020: nothing to map (no other spaces, NFC is the identity) and every
  // character is PVALID (§9.11) or a space (ID_DIS, allowed in FreeformClass), so the string is its own result.
  if (ASCII_WITH_SPACE.test(input)) return input;
  const out = input.replace(/\p{Zs}/gu, ' ').normalize('NFC');
  if (out.length === 0) throw new PrecisError('empty');
  enforceClass(out, 'freeform');
  return out;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
