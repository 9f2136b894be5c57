// XEP-0185 keys against the XEP's own example, and the key comparison.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialbackKey, keysEqual } from './dialback';

describe('dialback keys (XEP-0185)', () => {
  it('match the example of XEP-0185 §4', () => {
    assert.equal(
      dialbackKey('s3cr3tf0rd14lb4ck', 'xmpp.example.com', 'example.org', 'D60000229F'),
      '37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643',
    );
  });

  it('differ per receiving domain, originating domain and stream', () => {
    const base = dialbackKey('secret', 'b.test', 'a.test', 'id1');
    assert.notEqual(dialbackKey('secret', 'c.test', 'a.test', 'id1'), base);
    assert.notEqual(dialbackKey('secret', 'b.test', 'conference.a.test', 'id1'), base);
    assert.notEqual(dialbackKey('secret', 'b.test', 'a.test', 'id2'), base);
    assert.notEqual(dialbackKey('other', 'b.test', 'a.test', 'id1'), base);
    assert.ok(keysEqual(` ${base}\n`, base), 'whitespace around the key in the element is not part of it');
    assert.ok(!keysEqual(base.slice(1), base));
  });
});
