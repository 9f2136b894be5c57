// StreamParser.release(): idle streams give their saxes parser back and continue seamlessly afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamParser } from './stream-parser';

function collect() {
  const events: string[] = [];
  const parser = new StreamParser(
    {
      onOpen: (name) => events.push(`open ${name}`),
      onElement: (el) => events.push(el.toString()),
      onClose: () => events.push('close'),
      onError: (condition) => events.push(`error ${condition}`),
    },
    { maxStanzaSize: 1000 },
  );
  return { parser, events };
}

const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

test('a parser released between stanzas continues with the next stanza and the stream close', () => {
  const { parser, events } = collect();
  parser.write(`${HEADER}<message><body>one</body></message>  `);
  assert.equal(parser.release(), true);
  parser.write(`<message><body>two &amp; three</body></message></stream:stream>`);
  assert.deepEqual(events, [
    'open stream:stream',
    '<message><body>one</body></message>',
    '<message><body>two &amp; three</body></message>',
    'close',
  ]);
});

test('it is not released in the middle of a stanza or a tag, and errors still come after a release', () => {
  const { parser, events } = collect();
  parser.write(`${HEADER}<message><body>half`);
  assert.equal(parser.release(), false);
  parser.write(`</body></message><iq type='get' id='x`);
  assert.equal(parser.release(), false);
  parser.write(`'/>`);
  assert.equal(parser.release(), true);
  parser.write('<!-- nope -->');
  assert.deepEqual(events.slice(-2), ["<iq type='get' id='x'/>", 'error restricted-xml']);
});

test('the size limit still counts from the stanza start after a release', () => {
  const { parser, events } = collect();
  parser.write(HEADER);
  assert.equal(parser.release(), true);
  parser.write(`<message><body>${'x'.repeat(2000)}</body></message>`);
  assert.equal(events.at(-1), 'error policy-violation');
});
