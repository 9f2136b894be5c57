import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamParser, parseXml, type StreamParseErrorCondition } from './stream-parser';
import type { Attrs, XmlElement } from './element';

type Event =
  | { kind: 'open'; name: string; attrs: Attrs }
  | { kind: 'element'; el: XmlElement }
  | { kind: 'close' }
  | { kind: 'error'; condition: StreamParseErrorCondition; text: string };

function collect(maxStanzaSize = 1 << 16): { parser: StreamParser; events: Event[] } {
  const events: Event[] = [];
  const parser = new StreamParser(
    {
      onOpen: (name, attrs) => events.push({ kind: 'open', name, attrs }),
      onElement: (el) => events.push({ kind: 'element', el }),
      onClose: () => events.push({ kind: 'close' }),
      onError: (condition, text) => events.push({ kind: 'error', condition, text }),
    },
    { maxStanzaSize },
  );
  return { parser, events };
}

/** Feeds the chunks and returns the events, rendered as strings for easy comparison. */
function run(chunks: string[], maxStanzaSize?: number): string[] {
  const { parser, events } = collect(maxStanzaSize);
  for (const c of chunks) parser.write(c);
  return events.map(render);
}

function render(e: Event): string {
  switch (e.kind) {
    case 'open':
      return `open ${e.name} ${JSON.stringify(e.attrs)}`;
    case 'element':
      return `element ${e.el.toString()}`;
    case 'close':
      return 'close';
    case 'error':
      return `error ${e.condition}`;
  }
}

function errorOf(chunks: string[], maxStanzaSize?: number): string | undefined {
  return run(chunks, maxStanzaSize).find((e) => e.startsWith('error '))?.slice('error '.length);
}

const HEADER =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";
const HEADER_ATTRS = {
  xmlns: 'jabber:client',
  'xmlns:stream': 'http://etherx.jabber.org/streams',
  to: 'example.com',
  version: '1.0',
};
const MESSAGE = "<message to='juliet@example.com' type='chat'><body>Wherefore art thou?</body></message>";
const PING = "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>";

/** Cuts `s` into pieces of `size` characters. */
function chunksOf(s: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}

test('stream open reports the qualified name and attributes', () => {
  const { parser, events } = collect();
  parser.write(HEADER);
  assert.equal(events.length, 1);
  assert.deepEqual(events[0], { kind: 'open', name: 'stream:stream', attrs: HEADER_ATTRS });
});

test('attribute maps are plain objects, comparable with literals, and safe with odd names', () => {
  const el = parseXml(`<a __proto__='x' constructor='y'/>`);
  assert.deepEqual(el.attrs, { ['__proto__']: 'x', constructor: 'y' });
  assert.equal(Object.getPrototypeOf(el.attrs), Object.prototype);
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

test('an XML declaration before the stream header is allowed', () => {
  assert.deepEqual(run([`<?xml version='1.0'?>${HEADER}`]), [`open stream:stream ${JSON.stringify(HEADER_ATTRS)}`]);
  assert.deepEqual(run([`<?xml version="1.0" encoding="UTF-8"?>\n${HEADER}`]).length, 1);
});

test('stanzas are emitted as depth-1 elements, then close', () => {
  assert.deepEqual(run([HEADER + MESSAGE + PING + '</stream:stream>']), [
    `open stream:stream ${JSON.stringify(HEADER_ATTRS)}`,
    `element ${MESSAGE}`,
    `element ${PING}`,
    'close',
  ]);
});

test('attributes in either quote style; predefined entities and character references are decoded', () => {
  const { parser, events } = collect();
  parser.write(HEADER + `<message to="a@b" id='&lt;&amp;&gt;&quot;&apos;'><body>&#x41;&#66;&amp;&lt;&#x1F600;</body></message>`);
  const el = (events[1] as { el: XmlElement }).el;
  assert.equal(el.attrs.to, 'a@b');
  assert.equal(el.attrs.id, `<&>"'`);
  assert.equal(el.getChildText('body'), 'AB&<😀');
});

test('CDATA sections inside stanzas become text', () => {
  const { parser, events } = collect();
  parser.write(HEADER + '<message><body><![CDATA[a <b> & c]]></body></message>');
  assert.equal((events[1] as { el: XmlElement }).el.getChildText('body'), 'a <b> & c');
});

test('a stanza split at every possible point yields the same element', () => {
  const input = HEADER + MESSAGE + PING + '</stream:stream>';
  const expected = run([input]);
  for (let cut = 1; cut < input.length; cut++) {
    assert.deepEqual(run([input.slice(0, cut), input.slice(cut)]), expected, `cut at ${cut}`);
  }
});

test('feeding byte by byte (one character per write) yields the same events', () => {
  const input = `<?xml version='1.0'?>` + HEADER + ' ' + MESSAGE + '\n' + PING + '</stream:stream>';
  const expected = run([input]);
  assert.equal(expected.length, 4);
  assert.deepEqual(run([...input]), expected);
  for (const size of [2, 3, 7, 13]) assert.deepEqual(run(chunksOf(input, size)), expected, `size ${size}`);
});

test('multi-byte UTF-8 split across chunks works when the caller decodes with a streaming TextDecoder', () => {
  // The parser takes strings: transports decode bytes with TextDecoder({stream: true}), which holds back
  // an incomplete UTF-8 sequence until the next chunk.
  const text = 'héllo wörld ✓ 漢字 😀';
  const bytes = new TextEncoder().encode(HEADER + `<message><body>${text}</body></message>`);
  const { parser, events } = collect();
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < bytes.length; i++) parser.write(decoder.decode(bytes.subarray(i, i + 1), { stream: true }));
  assert.equal(events.length, 2);
  assert.equal((events[1] as { el: XmlElement }).el.getChildText('body'), text);
});

test('a surrogate pair split across string chunks is reassembled', () => {
  const input = HEADER + '<message><body>😀</body></message>';
  const at = input.indexOf('😀') + 1; // between the high and low surrogate
  const { parser, events } = collect();
  parser.write(input.slice(0, at));
  parser.write(input.slice(at));
  assert.equal((events[1] as { el: XmlElement }).el.getChildText('body'), '😀');
});

test('whitespace keepalives between stanzas are ignored (RFC 6120 §4.6.1)', () => {
  assert.deepEqual(run([HEADER, ' ', '\n', ' \t\r\n ', MESSAGE, '   ', ' ', PING, ' ', '</stream:stream>']), [
    `open stream:stream ${JSON.stringify(HEADER_ATTRS)}`,
    `element ${MESSAGE}`,
    `element ${PING}`,
    'close',
  ]);
});

test('whitespace inside a stanza is kept', () => {
  const { parser, events } = collect();
  parser.write(HEADER + '<message>\n  <body> a  b </body>\n</message>');
  const el = (events[1] as { el: XmlElement }).el;
  assert.equal(el.getChildText('body'), ' a  b ');
  assert.equal(el.children.length, 3);
});

test('a self-closing stanza and nested elements', () => {
  assert.deepEqual(run([HEADER + "<presence/><iq type='result' id='1'><query xmlns='q'><a><b/></a></query></iq>"]).slice(1), [
    'element <presence/>',
    "element <iq type='result' id='1'><query xmlns='q'><a><b/></a></query></iq>",
  ]);
});

test('a self-closing stream header opens and closes the stream', () => {
  assert.deepEqual(run(["<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>"]), [
    `open stream:stream {"xmlns:stream":"http://etherx.jabber.org/streams"}`,
    'close',
  ]);
});

test('every complete stanza is delivered before write() returns', () => {
  const { parser, events } = collect();
  parser.write(HEADER);
  parser.write(MESSAGE);
  assert.equal(events.length, 2);
  parser.write(PING + '<presence');
  assert.equal(events.length, 3);
});

test('the stream close is reported once, after the last stanza', () => {
  const { parser, events } = collect();
  parser.write(HEADER + MESSAGE);
  parser.write('</stream:');
  assert.equal(events.length, 2);
  parser.write('stream>');
  assert.deepEqual(events.map(render).slice(2), ['close']);
  assert.equal(parser.isFailed, false);
});

test('each parser failure is reported once, then nothing more is emitted', () => {
  const { parser, events } = collect();
  parser.write(HEADER + '<message><body>x</wrong></message>' + MESSAGE);
  parser.write(MESSAGE + '<!-- c --></stream:stream>');
  assert.deepEqual(events.map(render).slice(1), ['error not-well-formed']);
  assert.equal(parser.isFailed, true);
});

test('stanzas before an error in the same chunk are delivered, nothing after it', () => {
  assert.deepEqual(run([HEADER + MESSAGE + '<a></b>' + PING]).slice(1), [`element ${MESSAGE}`, 'error not-well-formed']);
});

// Found by fuzzing (stream-parser.fuzz.test.ts): a stanza that ended right before bad input was delivered or lost
// depending on whether the two arrived in one read.
test('a stanza that ended right before bad input is delivered, however the input is cut', () => {
  for (const bad of ['<a<', '<!-- no -->', '<?pi?>', '</b>', '&nbsp;']) {
    const expected = [`element ${PING}`, bad === '<!-- no -->' || bad === '<?pi?>' || bad === '&nbsp;' ? 'error restricted-xml' : 'error not-well-formed'];
    assert.deepEqual(run([HEADER + PING + bad]).slice(1), expected, bad);
    assert.deepEqual(run([HEADER + PING, bad]).slice(1), expected, bad);
  }
  assert.deepEqual(run([HEADER + '</stream:stream><a<']).slice(1), ['close', 'error not-well-formed']);
});

test('a stanza closed by a mismatched end tag is never delivered', () => {
  // saxes pops <a> (a close event) before it notices that </b> does not match.
  assert.deepEqual(run([HEADER + '<a></b>']).slice(1), ['error not-well-formed']);
  assert.deepEqual(run([HEADER + '<message><body>x</body></stream:stream>']).slice(1), ['error not-well-formed']);
  assert.deepEqual(run([HEADER, '<a>', '</b>']).slice(1), ['error not-well-formed']);
});

test('a mismatched end tag for the stream header is not a close', () => {
  assert.deepEqual(run([HEADER + '</stream:foo>']).slice(1), ['error not-well-formed']);
});

test('an invalid stream header is not reported as opened', () => {
  assert.deepEqual(run(["<stream:stream to='a' to='b'>"]), ['error not-well-formed']);
  assert.deepEqual(run(["<stream:stream to='&foo;'>"]), ['error restricted-xml']);
});

// RFC 6120 §11.1: restricted XML.
for (const [what, input] of [
  ['a comment between stanzas', HEADER + '<!-- hello -->'],
  ['a comment inside a stanza', HEADER + '<message><!-- hello --></message>'],
  ['a comment before the stream', '<!-- hello -->' + HEADER],
  ['a processing instruction inside a stanza', HEADER + "<message><?php echo 'hi' ?></message>"],
  ['a processing instruction between stanzas', HEADER + '<?foo bar?>'],
  ['a processing instruction before the stream', `<?xml version='1.0'?><?xml-stylesheet href='a'?>` + HEADER],
  ['a DOCTYPE before the stream', '<!DOCTYPE stream>' + HEADER],
  ['a DTD with an internal subset', `<?xml version='1.0'?><!DOCTYPE foo [<!ENTITY x "y">]>` + HEADER],
  ['a DOCTYPE inside the stream', HEADER + '<!DOCTYPE foo>'],
  ['an undefined entity in text', HEADER + '<message><body>&foo;</body></message>'],
  ['an undefined entity in an attribute', HEADER + "<message to='&foo;'/>"],
  ['an undefined entity in the stream header', "<stream:stream to='&xxe;'>"],
] as const) {
  test(`restricted-xml: ${what}`, () => {
    assert.equal(errorOf([input]), 'restricted-xml');
    assert.equal(errorOf([...input]), 'restricted-xml', 'byte by byte');
  });
}

test('predefined entities and character references are allowed', () => {
  const events = run([HEADER + "<message id='&amp;&lt;&gt;&quot;&apos;&#65;&#x42;'><body>&amp;&lt;&gt;&quot;&apos;&#x41;&#10;</body></message>"]);
  assert.equal(events.length, 2);
  assert.ok(events[1]!.startsWith('element '));
});

for (const [what, input] of [
  ['mismatched tags', HEADER + '<message><body></message></body>'],
  ['a close tag for the wrong element', HEADER + '<message></presence>'],
  ['an unquoted attribute value', HEADER + '<message to=a/>'],
  ['an attribute without a value', HEADER + '<message to/>'],
  ['a missing space between attributes', HEADER + "<message a='1'b='2'/>"],
  ['a duplicate attribute', HEADER + "<a b='1' b='2'/>"],
  ['a duplicate attribute in the stream header', "<stream:stream to='a' to='b'>"],
  ['a disallowed control character in text', HEADER + '<message><body>\u0001</body></message>'],
  ['a disallowed control character in an attribute', HEADER + "<message id='\u0001'/>"],
  ['a character reference to a disallowed character', HEADER + '<message><body>&#1;</body></message>'],
  ['a NUL character', HEADER + '<message>\u0000</message>'],
  ['a bad character in a tag name', HEADER + '<1message/>'],
  ['a raw < in an attribute', HEADER + "<message id='<'/>"],
  ['a raw & in text', HEADER + '<message>a & b;</message>'],
  ['an empty entity', HEADER + '<message>&;</message>'],
  [']]> in text', HEADER + '<message>a ]]> b</message>'],
  ['text after the stream closed', HEADER + '</stream:stream>x'],
  ['a second root after the stream closed', HEADER + '</stream:stream><stream:stream>'],
  ['a close tag at depth 0', '</stream:stream>'],
  ['text before the stream header', 'hello' + HEADER],
  ['an XML declaration inside the stream', HEADER + "<?xml version='1.0'?>"],
  ['garbage markup', HEADER + '<!foobarbaz>'],
  ['a CDATA section between stanzas', HEADER + '<![CDATA[x]]>'],
] as const) {
  test(`not-well-formed: ${what}`, () => {
    assert.equal(errorOf([input]), 'not-well-formed');
    assert.equal(errorOf([...input]), 'not-well-formed', 'byte by byte');
  });
}

test('policy-violation: a stanza over the limit in one chunk', () => {
  const big = `<message><body>${'x'.repeat(2000)}</body></message>`;
  assert.deepEqual(run([HEADER + big], 1000).slice(1), ['error policy-violation']);
});

test('policy-violation: a stanza over the limit spread over many small chunks', () => {
  const big = `<message><body>${'x'.repeat(2000)}</body></message>`;
  assert.deepEqual(run([HEADER, ...chunksOf(big, 10)], 1000).slice(1), ['error policy-violation']);
});

test('policy-violation: many child elements, none of them large', () => {
  const big = `<iq type='set' id='1'><query xmlns='q'>${"<item jid='a@b'/>".repeat(200)}</query></iq>`;
  assert.deepEqual(run([HEADER + big], 1000).slice(1), ['error policy-violation']);
  assert.deepEqual(run([HEADER, ...chunksOf(big, 7)], 1000).slice(1), ['error policy-violation']);
});

test('policy-violation: a huge text node is detected before its element closes', () => {
  const { parser, events } = collect(1000);
  parser.write(HEADER + '<message><body>');
  for (let i = 0; i < 20 && events.length < 2; i++) parser.write('x'.repeat(100));
  assert.deepEqual(events.map(render).slice(1), ['error policy-violation']);
});

test('policy-violation: a huge open tag is detected before it completes', () => {
  const { parser, events } = collect(1000);
  parser.write(HEADER + "<message to='");
  for (let i = 0; i < 20 && events.length < 2; i++) parser.write('x'.repeat(100));
  assert.deepEqual(events.map(render).slice(1), ['error policy-violation']);
});

test('policy-violation: a huge attribute in a nested element', () => {
  const { parser, events } = collect(1000);
  parser.write(HEADER + "<message><x a='");
  for (let i = 0; i < 20 && events.length < 2; i++) parser.write('x'.repeat(100));
  assert.deepEqual(events.map(render).slice(1), ['error policy-violation']);
});

test('policy-violation: a huge stream header', () => {
  const { parser, events } = collect(1000);
  parser.write("<stream:stream to='");
  for (let i = 0; i < 20 && events.length < 1; i++) parser.write('x'.repeat(100));
  assert.deepEqual(events.map(render), ['error policy-violation']);
});

test('the limit counts markup: entities and attributes count as sent', () => {
  // 400 × '&amp;' is 2000 characters on the wire though only 400 characters of text.
  const stanza = `<message><body>${'&amp;'.repeat(400)}</body></message>`;
  assert.deepEqual(run([HEADER + stanza], 1000).slice(1), ['error policy-violation']);
});

test('a stanza just under the limit is accepted, in one chunk and byte by byte', () => {
  const stanza = `<message><body>${'x'.repeat(900)}</body></message>`;
  assert.ok(stanza.length <= 1000);
  assert.deepEqual(run([HEADER + stanza], 1000).slice(1), [`element ${stanza}`]);
  assert.deepEqual(run([HEADER, ...stanza], 1000).slice(1), [`element ${stanza}`]);
});

test('many small stanzas in one chunk whose total exceeds the limit are fine', () => {
  const stanzas = Array.from({ length: 500 }, (_, i) => `<message id='m${i}'><body>hello</body></message>`);
  const total = stanzas.join('');
  assert.ok(total.length > 10 * 1000);
  const events = run([HEADER + total], 1000);
  assert.equal(events.length, 501);
  assert.ok(events.every((e) => !e.startsWith('error')));
});

test('many small stanzas in one chunk that ends in the middle of a stanza are fine', () => {
  const stanzas = Array.from({ length: 500 }, (_, i) => `<message id='m${i}'><body>hello</body></message>`).join('');
  const events = run([HEADER + stanzas + "<message id='last'><bo", "dy>x</body></message>"], 1000);
  assert.equal(events.length, 502);
  assert.ok(events.every((e) => !e.startsWith('error')));
});

test('many small stanzas in chunks that cut through stanzas are fine', () => {
  const stanzas = Array.from({ length: 500 }, (_, i) => `<message id='m${i}'><body>hello</body></message>`).join('');
  for (const size of [1, 7, 333, 999, 4096]) {
    const events = run([HEADER, ...chunksOf(stanzas, size)], 1000);
    assert.equal(events.length, 501, `size ${size}`);
  }
});

test('whitespace keepalives over a long session never add up to a policy violation', () => {
  const { parser, events } = collect(150);
  parser.write(HEADER);
  for (let i = 0; i < 1000; i++) parser.write(' ');
  parser.write(MESSAGE);
  for (let i = 0; i < 1000; i++) parser.write('\n');
  parser.write('<presence/>');
  assert.ok(events.every((e) => e.kind !== 'error'), JSON.stringify(events.map(render)));
  assert.equal(events.length, 3);
});

test('whitespace before a stanza in the same chunk does not count towards it', () => {
  const events = run([HEADER + ' '.repeat(1000) + MESSAGE + '\n'.repeat(1000) + PING], 150);
  assert.deepEqual(events.slice(1), [`element ${MESSAGE}`, `element ${PING}`]);
});

test('the limit is exact: a stanza of maxStanzaSize characters passes, one more fails', () => {
  const stanza = `<message><body>${'x'.repeat(100)}</body></message>`;
  for (const chunks of [[HEADER + stanza], [HEADER, ...stanza]]) {
    assert.deepEqual(run(chunks, stanza.length).slice(1), [`element ${stanza}`]);
    assert.deepEqual(run(chunks, stanza.length - 1).slice(1), ['error policy-violation']);
  }
});

test('writes after an error are ignored', () => {
  const { parser, events } = collect(1000);
  parser.write(HEADER + `<message>${'x'.repeat(2000)}</message>`);
  parser.write(MESSAGE);
  parser.write('</stream:stream>');
  assert.deepEqual(events.map(render).slice(1), ['error policy-violation']);
});

test('end() reports an unclosed stream as not-well-formed', () => {
  const { parser, events } = collect();
  parser.write(HEADER + '<message>');
  parser.end();
  assert.deepEqual(events.map(render).slice(1), ['error not-well-formed']);
});

test('end() after a clean close reports nothing more', () => {
  const { parser, events } = collect();
  parser.write(HEADER + '</stream:stream>');
  parser.end();
  assert.deepEqual(events.map(render).slice(1), ['close']);
});

test('an exception thrown by a handler fails the parser', () => {
  const parser = new StreamParser(
    {
      onOpen: () => {},
      onElement: () => {
        throw new Error('boom');
      },
      onClose: () => {},
      onError: () => {},
    },
    { maxStanzaSize: 1000 },
  );
  parser.write(HEADER);
  parser.write(MESSAGE);
  assert.equal(parser.isFailed, true);
});

// parseXml: complete fragments.

test('parseXml parses a complete element', () => {
  const el = parseXml("<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>");
  assert.equal(el.name, 'iq');
  assert.deepEqual(el.attrs, { type: 'get', id: '1' });
  assert.equal(el.getChild('query')?.attrs.xmlns, 'jabber:iq:roster');
});

test('parseXml keeps text and nested children of the root', () => {
  const el = parseXml('<message><body>Hi &amp; bye</body>text<x/></message>');
  assert.equal(el.getChildText('body'), 'Hi & bye');
  assert.equal(el.text(), 'text');
  assert.equal(el.toString(), '<message><body>Hi &amp; bye</body>text<x/></message>');
});

test('parseXml accepts a self-closing root, surrounding whitespace and an XML declaration', () => {
  assert.equal(parseXml('<presence/>').toString(), '<presence/>');
  assert.equal(parseXml("\n <presence type='unavailable'/> \n").attrs.type, 'unavailable');
  assert.equal(parseXml(`<?xml version='1.0'?><a>b</a>`).text(), 'b');
});

test('parseXml rejects an unclosed root', () => {
  assert.throws(() => parseXml('<message><body>hi</body>'), /not-well-formed/);
  assert.throws(() => parseXml('<message>'), /not-well-formed/);
  assert.throws(() => parseXml("<message to='a'"), /not-well-formed/);
});

test('parseXml rejects empty input, text only, and trailing content', () => {
  assert.throws(() => parseXml(''), /not-well-formed/);
  assert.throws(() => parseXml('hello'), /not-well-formed/);
  assert.throws(() => parseXml('<a/><b/>'), /not-well-formed/);
  assert.throws(() => parseXml('<a/>text'), /not-well-formed/);
  assert.throws(() => parseXml('<a/><b'), /not-well-formed/);
});

test('parseXml reports restricted XML and size violations with their conditions', () => {
  assert.throws(() => parseXml('<a><!-- c --></a>'), /^Error: restricted-xml/);
  assert.throws(() => parseXml('<a>&nbsp;</a>'), /^Error: restricted-xml/);
  assert.throws(() => parseXml('<a></b>'), /^Error: not-well-formed/);
  assert.throws(() => parseXml(`<a>${'x'.repeat(200)}</a>`, 100), /^Error: policy-violation/);
  assert.equal(parseXml(`<a>${'x'.repeat(50)}</a>`, 100).text().length, 50);
});
