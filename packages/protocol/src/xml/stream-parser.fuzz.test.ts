// Fuzz target for the stream parser: random, XMPP-shaped and mutated XML, split at random byte boundaries and decoded
// chunk by chunk as a transport does. Properties: it never throws; every input ends in a closed stream or exactly one
// error, with nothing after the error; where the input is cut never changes what comes out; whatever it delivers
// serialises to XML that parses back to the same thing; and an unfinished stanza never grows past the size limit.
// Runs for a share of PARLEY_FUZZ_SECONDS (default 60 for the whole fuzz suite; 0 skips); `npm run fuzz` runs longer.
// A failure prints a seed and path: PARLEY_FUZZ_SEED=<seed> reproduces it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cuts, fuzzBudgetMs, splitAt, streamContent, wellFormedElement } from '@parley/protocol/testing';
import { StreamParser, parseXml } from './stream-parser';

const TOTAL_SECONDS = Number(process.env.PARLEY_FUZZ_SECONDS ?? 60);
const SEED = process.env.PARLEY_FUZZ_SEED === undefined ? undefined : Number(process.env.PARLEY_FUZZ_SEED);
const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
const CLOSE = '</stream:stream>';

function settings(share: number): fc.Parameters<unknown> {
  return { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: fuzzBudgetMs(TOTAL_SECONDS, share), markInterruptAsFailure: false, seed: SEED };
}

/** Feeds byte chunks through a streaming UTF-8 decoder into a parser; returns what the parser reported, in order. */
function run(chunks: Uint8Array[], maxStanzaSize: number): string[] {
  const events: string[] = [];
  const parser = new StreamParser(
    {
      onOpen: (name) => events.push(`open ${name}`),
      onElement: (el) => events.push(`element ${el.toString()}`),
      onClose: () => events.push('close'),
      onError: (condition) => events.push(`error ${condition}`),
    },
    { maxStanzaSize },
  );
  const decoder = new TextDecoder('utf-8');
  for (const chunk of chunks) {
    const text = decoder.decode(chunk, { stream: true });
    if (text.length > 0) parser.write(text);
  }
  const rest = decoder.decode();
  if (rest.length > 0) parser.write(rest);
  parser.end();
  return events;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}

describe('stream parser fuzz', { skip: TOTAL_SECONDS <= 0 ? 'PARLEY_FUZZ_SECONDS=0' : undefined }, () => {
  it('ends every input in a close or one error, the same wherever it is cut, delivering re-parseable elements', () => {
    fc.assert(
      fc.property(streamContent(fc.oneof(wellFormedElement, wellFormedElement.map((e) => `  ${e}\n`))), cuts, (content, positions) => {
        const input = concat(utf8(HEADER), content, utf8(CLOSE));
        const whole = run([input], 1 << 20);
        const split = run(splitAt(input, positions), 1 << 20);
        assert.deepEqual(split, whole, 'the same input cut differently gave different results');
        assert.equal(whole[0], 'open stream:stream');
        const errors = whole.filter((e) => e.startsWith('error '));
        assert.ok(errors.length <= 1, 'at most one error');
        if (errors.length === 1) assert.ok(whole.at(-1)!.startsWith('error '), 'nothing after an error');
        else assert.equal(whole.at(-1), 'close', 'a stream without an error ends closed');
        const closed = whole.indexOf('close');
        if (closed !== -1) assert.ok(!whole.slice(closed + 1).some((e) => e.startsWith('element ')), 'no element after the close');
        // What the parser accepted, serialised again, is well-formed and means the same.
        for (const e of whole) {
          if (!e.startsWith('element ')) continue;
          const xml = e.slice('element '.length);
          assert.equal(parseXml(xml).toString(), xml);
        }
      }),
      settings(0.18),
    );
  });

  it('never lets an unfinished stanza grow past the size limit, wherever it is cut', () => {
    const LIMIT = 2000;
    fc.assert(
      fc.property(streamContent(), fc.constantFrom('<message><body>', '<iq type="get" id="a', '<presence><![CDATA[', '<x y="', '<a'), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 12 }), (prefix, open, sizes) => {
        const events: string[] = [];
        const parser = new StreamParser(
          {
            onOpen: () => {},
            onElement: () => events.push('element'),
            onClose: () => events.push('close'),
            onError: (condition) => events.push(`error ${condition}`),
          },
          { maxStanzaSize: LIMIT },
        );
        const decoder = new TextDecoder('utf-8');
        parser.write(HEADER);
        parser.write(decoder.decode(prefix, { stream: true }) + decoder.decode());
        const before = events.some((e) => e.startsWith('error') || e === 'close');
        parser.write(open);
        let sinceOpen = open.length;
        // Text that never closes the stanza: 'a' is fine in text, in an attribute value and in CDATA alike.
        while (sinceOpen <= LIMIT + 700) {
          for (const n of sizes) {
            parser.write('a'.repeat(n));
            sinceOpen += n;
          }
        }
        const errors = events.filter((e) => e.startsWith('error'));
        if (before) return;
        assert.equal(errors.length, 1, `no error after ${sinceOpen} characters of one stanza (limit ${LIMIT}): ${events.join(', ')}`);
        // The prefix may have left an element open that the filler completes or breaks: the limit still holds.
        assert.match(errors[0]!, /^error (policy-violation|not-well-formed|restricted-xml)$/);
      }),
      settings(0.07),
    );
  });
});
