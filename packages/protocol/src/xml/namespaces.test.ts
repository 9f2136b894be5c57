// XML-NAMES resolution in the stream parser: whatever prefixes a sender uses, elements come out in one canonical
// form (local names, a default xmlns where the namespace changes), and namespace errors are not-well-formed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamParser, parseXml } from './stream-parser';

const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
const MUC_USER = 'http://jabber.org/protocol/muc#user';

/** Feeds a stream header and the chunks; returns what the handlers saw. */
function run(chunks: string[], header = HEADER, maxStanzaSize = 10_000) {
  const events: string[] = [];
  const opened: unknown[][] = [];
  const parser = new StreamParser(
    {
      onOpen: (...args) => opened.push(args),
      onElement: (el) => events.push(el.toString()),
      onClose: () => events.push('close'),
      onError: (condition, text) => events.push(`error ${condition}: ${text}`),
    },
    { maxStanzaSize },
  );
  for (const c of [header, ...chunks]) parser.write(c);
  return { events, opened };
}

test('a prefixed element is delivered under its local name with its namespace as default', () => {
  const { events } = run([`<message><u:x xmlns:u='${MUC_USER}'><u:item affiliation='owner'/></u:x></message>`]);
  assert.deepEqual(events, [`<message><x xmlns='${MUC_USER}'><item affiliation='owner'/></x></message>`]);
  const el = parseXml(events[0]!);
  assert.equal(el.getChild('x', MUC_USER)?.getChild('item', MUC_USER)?.attrs.affiliation, 'owner');
});

test('unprefixed children of a prefixed element keep the namespace they were in', () => {
  // <body/> is in jabber:client (the default in scope), not in the prefixed parent's namespace.
  const { events } = run([`<message><f:forwarded xmlns:f='urn:xmpp:forward:0'><message><body>hi</body></message></f:forwarded></message>`]);
  assert.deepEqual(events, [
    `<message><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><body>hi</body></message></forwarded></message>`,
  ]);
});

test('a prefix for jabber:client makes an ordinary stanza', () => {
  const { events } = run([`<c:message xmlns:c='jabber:client' to='a@b'><c:body>x</c:body></c:message>`]);
  assert.deepEqual(events, [`<message to='a@b'><body>x</body></message>`]);
});

test('a default namespace declared on a prefixed element applies to its unprefixed children only', () => {
  const { events } = run([`<message><p:a xmlns:p='urn:p' xmlns='urn:d'><b/><p:c/></p:a></message>`]);
  assert.deepEqual(events, [`<message><a xmlns='urn:p'><b xmlns='urn:d'/><c/></a></message>`]);
});

test('an undeclared default namespace is written out where it differs', () => {
  assert.equal(parseXml(`<p:a xmlns:p='urn:p'><b/></p:a>`).toString(), `<a xmlns='urn:p'><b xmlns=''/></a>`);
  assert.equal(parseXml(`<a xmlns='urn:a'><b xmlns=''/></a>`).toString(), `<a xmlns='urn:a'><b xmlns=''/></a>`);
});

test('prefixes shadow outer bindings and go out of scope with their element', () => {
  const { events } = run([`<message xmlns:p='urn:one'><p:a/><x xmlns:p='urn:two'><p:a/></x><p:a/></message>`]);
  assert.deepEqual(events, [`<message><a xmlns='urn:one'/><x><a xmlns='urn:two'/></x><a xmlns='urn:one'/></message>`]);
  const after = run([`<message><x xmlns:p='urn:one'/></message><message><p:a/></message>`]).events;
  assert.equal(after[0], '<message><x/></message>');
  assert.match(after[1]!, /^error not-well-formed: unbound prefix 'p'/);
});

test('elements written without prefixes are unchanged, redundant declarations included', () => {
  const stanza = `<message to='a@b' xml:lang='en'><body>x</body><x xmlns='${MUC_USER}'><item xmlns='${MUC_USER}'/></x></message>`;
  assert.deepEqual(run([stanza]).events, [stanza]);
  const explicit = `<message xmlns='jabber:client'><body>x</body></message>`;
  assert.deepEqual(run([explicit]).events, [explicit]);
});

test('prefixed attributes stay in their namespace, with their binding on the element', () => {
  const { events } = run([`<message xmlns:e='urn:e'><x xmlns='urn:x' e:flag='1' xml:lang='de'/></message>`]);
  assert.deepEqual(events, [`<message><x xmlns='urn:x' e:flag='1' xml:lang='de' xmlns:e='urn:e'/></message>`]);
  // The output re-parses to the same canonical form.
  const once = parseXml(events[0]!).toString();
  assert.equal(parseXml(once).toString(), once);
});

test('the canonical form is a fixed point: it re-parses to itself, attribute order included', () => {
  // Found by fuzzing: an element whose namespace is written out (its parent had a prefix) and that carries a prefixed
  // attribute came out as `u:t xmlns:u xmlns`; parsed again, the declaration moved behind `xmlns`, so a stored or
  // forwarded copy no longer matched the stanza it was made from.
  const canonical = parseXml(`<p:a xmlns:p='urn:p' xmlns:u='urn:u'><c u:t='0'/></p:a>`).toString();
  assert.equal(canonical, `<a xmlns='urn:p'><c u:t='0' xmlns='' xmlns:u='urn:u'/></a>`);
  assert.equal(parseXml(canonical).toString(), canonical);
  // The fuzz counterexample itself: the stream prefix bound on the header, used inside a stanza.
  const { events } = run([`<message xmlns:u='localhost'><message><stream:features><_ u:type='0'/></stream:features></message></message>`]);
  assert.deepEqual(events, [
    `<message><message><features xmlns='http://etherx.jabber.org/streams'><_ u:type='0' xmlns='jabber:client' xmlns:u='localhost'/></features></message></message>`,
  ]);
  assert.equal(parseXml(events[0]!).toString(), events[0]);
});

test('the stream header is reported as sent, with its namespaces resolved', () => {
  const prefixed = run([], `<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams' version='1.0'>`).opened;
  assert.deepEqual(prefixed, [
    ['s:stream', { xmlns: 'jabber:client', 'xmlns:s': 'http://etherx.jabber.org/streams', version: '1.0' }, 'http://etherx.jabber.org/streams', 'jabber:client'],
  ]);
  const bare = run([], `<stream xmlns='http://etherx.jabber.org/streams'>`).opened;
  assert.deepEqual(bare[0]!.slice(2), ['http://etherx.jabber.org/streams', 'http://etherx.jabber.org/streams']);
});

test('prefixes bound on the stream header are in scope for stanzas', () => {
  const { events } = run([`<message><u:x/></message>`], `${HEADER.slice(0, -1)} xmlns:u='${MUC_USER}'>`);
  assert.deepEqual(events, [`<message><x xmlns='${MUC_USER}'/></message>`]);
});

test('a released parser keeps the stream header bindings', () => {
  const events: string[] = [];
  const parser = new StreamParser(
    { onOpen: () => {}, onElement: (el) => events.push(el.toString()), onClose: () => {}, onError: (c) => events.push(c) },
    { maxStanzaSize: 1000 },
  );
  parser.write(`${HEADER.slice(0, -1)} xmlns:u='${MUC_USER}'>`);
  assert.equal(parser.release(), true);
  parser.write(`<message><u:x/></message>`);
  assert.deepEqual(events, [`<message><x xmlns='${MUC_USER}'/></message>`]);
});

const violations: [string, string][] = [
  ['an unbound element prefix', `<message><u:x/></message>`],
  ['an unbound prefix in a stanza name', `<c:message/>`],
  ['an unbound attribute prefix', `<message><x u:a='1'/></message>`],
  ['an element with the xmlns prefix', `<message xmlns:p='urn:p'><xmlns:x/></message>`],
  ['a declared xmlns prefix', `<message><x xmlns:xmlns='urn:p'/></message>`],
  ['the xml prefix bound elsewhere', `<message><x xmlns:xml='urn:p'/></message>`],
  ['another prefix bound to the xml namespace', `<message><x xmlns:p='http://www.w3.org/XML/1998/namespace'/></message>`],
  ['the xmlns namespace as default', `<message><x xmlns='http://www.w3.org/2000/xmlns/'/></message>`],
  ['an undeclared prefix (XML-NAMES 1.0)', `<message xmlns:p='urn:p'><x xmlns:p=''/></message>`],
  ['an empty local part', `<message xmlns:p='urn:p'><p:/></message>`],
  ['two colons in a name', `<message xmlns:p='urn:p'><p:a:b/></message>`],
  ['one attribute twice under two prefixes', `<message xmlns:p='urn:p' xmlns:q='urn:p'><x p:a='1' q:a='2'/></message>`],
];
for (const [what, stanza] of violations) {
  test(`not-well-formed (XML-NAMES): ${what}`, () => {
    const { events } = run([stanza]);
    assert.equal(events.length, 1, events.join('\n'));
    assert.match(events[0]!, /^error not-well-formed: /);
  });
}

test('an unbound prefix on the stream header is not-well-formed and the header is not reported', () => {
  const { events, opened } = run([], `<stream:stream xmlns='jabber:client' version='1.0'>`);
  assert.deepEqual(opened, []);
  assert.match(events[0]!, /^error not-well-formed: unbound prefix 'stream'/);
});

test('parseXml resolves namespaces too (stored and forwarded stanzas)', () => {
  assert.equal(parseXml(`<s:stanza-id xmlns:s='urn:xmpp:sid:0' id='1' by='a@b'/>`).toString(), `<stanza-id id='1' by='a@b' xmlns='urn:xmpp:sid:0'/>`);
  assert.throws(() => parseXml(`<s:stanza-id/>`), /not-well-formed: unbound prefix/);
});

test('policy-violation: the size limit also bounds what the canonical form adds', () => {
  // Each <b/> inherits a long default namespace through a prefixed parent, so it is written out on every one:
  // about 1,400 characters as sent would become about 60,000.
  const ns = `urn:${'n'.repeat(100)}`;
  const events: string[] = [];
  const parser = new StreamParser(
    { onOpen: () => {}, onElement: (el) => events.push(el.toString()), onClose: () => {}, onError: (c) => events.push(`error ${c}`) },
    { maxStanzaSize: 10_000 },
  );
  parser.write(HEADER);
  parser.write(`<message><x xmlns='${ns}'><p:a xmlns:p='urn:p'>${'<b/>'.repeat(300)}</p:a></x></message>`);
  assert.deepEqual(events, ['error policy-violation']);
  // A few such elements are fine.
  const small = run([`<message><x xmlns='${ns}'><p:a xmlns:p='urn:p'>${'<b/>'.repeat(3)}</p:a></x></message>`]).events;
  assert.equal(small.length, 1);
  assert.equal(parseXml(small[0]!).getChild('x')?.getChild('a')?.getChildren('b', ns).length, 3);
});

test('bindings declared deep inside a stanza end with their elements', () => {
  const depth = 2000;
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += `<p${i}:e xmlns:p${i}='urn:${i}'>`;
    close = `</p${i}:e>` + close;
  }
  const { events } = run([`<message>${open}${close}</message>`, `<message><p5:e/></message>`], HEADER, 1 << 20);
  assert.equal(events.length, 2);
  assert.match(events[0]!, /^<message><e xmlns='urn:0'><e xmlns='urn:1'>/);
  assert.match(events[1]!, /^error not-well-formed: unbound prefix 'p5'/);
});
