// Input generators for the stream fuzz targets (fast-check): well-formed XMPP-shaped XML, the same mutated at the
// byte level, random bytes, and random byte boundaries to split any of them at. Test support only: imported by
// *.fuzz.test.ts files through '@parley/protocol/testing', never by the library.
import fc from 'fast-check';
import { NS } from '../ns';
import { escapeAttr, escapeText } from '../xml/element';

const NAMESPACES = [...new Set(Object.values(NS))];
const NAMES = [
  'message', 'presence', 'iq', 'body', 'query', 'item', 'x', 'error', 'show', 'status', 'priority', 'subject', 'thread',
  'pubsub', 'publish', 'items', 'create', 'configure', 'ping', 'bind', 'resource', 'enable', 'r', 'a', 'resume', 'auth',
  'response', 'abort', 'starttls', 'authenticate', 'vCard', 'block', 'unblock', 'invite', 'decline', 'delay', 'forwarded',
  'result', 'set', 'before', 'after', 'max', 'field', 'value', 'command', 'list', 'storage', 'conference', 'stream:stream',
  'stream:features', 'stream:error',
];
const ATTRS = ['to', 'from', 'type', 'id', 'xml:lang', 'node', 'jid', 'name', 'var', 'h', 'previd', 'resume', 'max', 'role', 'affiliation', 'nick', 'ver', 'mechanism', 'action', 'sessionid', 'queryid', 'with', 'start'];
const TYPES = ['get', 'set', 'result', 'error', 'chat', 'groupchat', 'headline', 'normal', 'unavailable', 'subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe', 'bogus', ''];
const JIDS = [
  'localhost', 'fuzz@localhost', 'fuzz@localhost/fuzz', 'peer@localhost', 'peer@localhost/r', 'nobody@localhost', 'conference.localhost',
  'room@conference.localhost', 'room@conference.localhost/nick', 'pubsub.localhost', 'proxy.localhost', 'example.org', 'user@example.org/r',
  '@localhost', 'a@b@c', 'x'.repeat(1100) + '@localhost', 'user@[::1]', 'UsEr@LocalHost/Res', 'user@localhost/', '/r', 'ℌ@ℌ', 'user\u0000@localhost',
];

/** Characters XML 1.0 allows (§2.2), weighted toward what breaks parsers: markup characters, astral planes. */
const xmlChar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', ' ', '\n', '\t', '\r', '<', '>', '&', "'", '"', ']', ']]>', '-->', '?>', '=', '/', ':') },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom('\u00e9', '\u2028', '\ufeff', '\ufffd', '\ud83d\ude00', '\u{10ffff}', '\u0085', '\u00a0', '\u200b') },
);
const xmlText = fc.array(xmlChar, { maxLength: 12 }).map((parts) => parts.join('').replace(/[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, ''));

const attrValue = fc.oneof(fc.constantFrom(...TYPES), fc.constantFrom(...JIDS), xmlText, fc.nat({ max: 2 ** 33 }).map(String), fc.constant('-1'));

interface Tree {
  name: string;
  attrs: [string, string][];
  children: (Tree | string)[];
}

const tree: fc.Arbitrary<Tree> = fc.letrec<{ node: Tree }>((tie) => ({
  node: fc.record({
    name: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: fc.stringMatching(/^[a-z_][a-z0-9._-]{0,6}(:[a-z][a-z0-9]{0,4})?$/) }),
    attrs: fc.uniqueArray(
      fc.tuple(
        fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ATTRS) }, { weight: 2, arbitrary: fc.constant('xmlns') }, { weight: 1, arbitrary: fc.constantFrom('xmlns:u', 'u:type', 'xmlns:stream') }),
        fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...NAMESPACES) }, { weight: 3, arbitrary: attrValue }),
      ),
      { maxLength: 4, selector: ([k]) => k },
    ),
    children: fc.array(fc.oneof({ depthSize: 'small', maxDepth: 5 }, { weight: 2, arbitrary: xmlText }, { weight: 1, arbitrary: tie('node') }), { maxLength: 4 }),
  }),
})).node;

function serialise(t: Tree): string {
  let s = `<${t.name}`;
  for (const [k, v] of t.attrs) s += ` ${k}='${escapeAttr(v)}'`;
  if (t.children.length === 0) return s + '/>';
  s += '>';
  for (const c of t.children) s += typeof c === 'string' ? escapeText(c) : serialise(c);
  return `${s}</${t.name}>`;
}

/** A well-formed element, shaped like XMPP traffic (real element names, namespaces, JIDs and types). */
export const wellFormedElement: fc.Arbitrary<string> = tree.map(serialise);

/** A stanza a client could send: message, presence or iq around a well-formed payload. */
export const stanza: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('message', 'presence', 'iq'),
    fc.uniqueArray(fc.tuple(fc.constantFrom('to', 'type', 'id', 'from', 'xml:lang', 'xmlns'), attrValue), { maxLength: 4, selector: ([k]) => k }),
    fc.array(wellFormedElement, { maxLength: 3 }),
  )
  .map(([name, attrs, children]) => serialise({ name, attrs, children: [] }).replace(/\/>$/, `>${children.join('')}</${name}>`));

/** Byte sequences that a UTF-8 decoder and an XML parser must refuse or survive. */
const NASTY = [
  '<', '>', '&', '&amp', '&#0;', '&#x0;', '&#xD800;', '&#1114112;', '&lt;', '&bogus;', '<!--', '-->', '<![CDATA[', ']]>', '<?xml version="1.0"?>',
  '<?pi x?>', '<!DOCTYPE x [<!ENTITY a "b">]>', '&a;', '</stream:stream>', "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
  "xmlns='", "xmlns:u='http://jabber.org/protocol/muc#user'", '<u:x>', '</', '/>', "='", '="', '\u0000', '\u0001', '\ufffe',
].map((s) => new TextEncoder().encode(s));
const BAD_UTF8 = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xfe, 0xff]].map((b) => Uint8Array.from(b));

type Mutation = { at: number; kind: 'delete' | 'duplicate' | 'insert' | 'flip'; len: number; token: Uint8Array; bit: number };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('delete', 'duplicate', 'insert', 'insert', 'flip'),
  len: fc.integer({ min: 1, max: 32 }),
  token: fc.constantFrom(...NASTY, ...BAD_UTF8),
  bit: fc.nat({ max: 7 }),
});

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = bytes;
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    const end = Math.min(b.length, at + m.len);
    if (m.kind === 'delete') b = concat(b.subarray(0, at), b.subarray(end));
    else if (m.kind === 'duplicate') b = concat(b.subarray(0, end), b.subarray(at, end), b.subarray(end));
    else if (m.kind === 'insert') b = concat(b.subarray(0, at), m.token, b.subarray(at));
    else if (at < b.length) {
      b = Uint8Array.from(b);
      b[at]! ^= 1 << m.bit;
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/**
 * Stream content (what follows the stream header): well-formed stanzas, the same mutated at the byte level, or
 * random bytes with markup sprinkled in.
 */
export function streamContent(element: fc.Arbitrary<string> = stanza): fc.Arbitrary<Uint8Array> {
  const wellFormed = fc.array(element, { minLength: 1, maxLength: 6 }).map((els) => utf8(els.join('')));
  return fc.oneof(
    { weight: 3, arbitrary: wellFormed },
    { weight: 5, arbitrary: fc.tuple(wellFormed, fc.array(mutation, { minLength: 1, maxLength: 6 })).map(([b, ms]) => mutate(b, ms)) },
    { weight: 1, arbitrary: fc.array(fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.constantFrom(...NASTY, ...BAD_UTF8)), { maxLength: 24 }).map((ps) => concat(...ps)) },
  );
}

/** Where to cut a byte string: each chunk is delivered (and decoded) separately, as reads from a socket are. */
export const cuts: fc.Arbitrary<number[]> = fc.array(fc.nat(), { maxLength: 12 });

/** `bytes` cut at `positions` (taken modulo its length), in order; empty chunks are dropped. */
export function splitAt(bytes: Uint8Array, positions: number[]): Uint8Array[] {
  const points = [...new Set(positions.map((p) => (bytes.length === 0 ? 0 : p % bytes.length)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    if (p > last) chunks.push(bytes.subarray(last, p));
    last = Math.max(last, p);
  }
  return chunks;
}

/** Milliseconds of a fuzz budget: `share` of `totalSeconds` (PARLEY_FUZZ_SECONDS in the fuzz tests). */
export function fuzzBudgetMs(totalSeconds: number, share: number): number {
  return Math.max(0, Math.round(totalSeconds * share * 1000));
}
