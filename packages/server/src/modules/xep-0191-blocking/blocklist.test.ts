// XEP-0191 §6 JID matching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Jid } from '@parley/protocol';
import { isBlocked } from './blocklist';

const blocked = (entries: string[], jid: string) => isBlocked(new Set(entries), Jid.parse(jid));

test('a full JID entry matches only that resource', () => {
  assert.equal(blocked(['bob@example.com/phone'], 'bob@example.com/phone'), true);
  assert.equal(blocked(['bob@example.com/phone'], 'bob@example.com/laptop'), false);
  assert.equal(blocked(['bob@example.com/phone'], 'bob@example.com'), false);
});

test('a bare JID entry matches the bare JID and any resource', () => {
  assert.equal(blocked(['bob@example.com'], 'bob@example.com'), true);
  assert.equal(blocked(['bob@example.com'], 'bob@example.com/any'), true);
  assert.equal(blocked(['bob@example.com'], 'rob@example.com'), false);
  assert.equal(blocked(['bob@example.com'], 'example.com'), false);
});

test('a domain/resource entry matches only that address', () => {
  assert.equal(blocked(['example.com/bot'], 'example.com/bot'), true);
  assert.equal(blocked(['example.com/bot'], 'example.com'), false);
  assert.equal(blocked(['example.com/bot'], 'bob@example.com/bot'), false);
});

test('a domain entry matches the domain, everything at it, and its subdomains', () => {
  for (const jid of ['example.com', 'example.com/r', 'bob@example.com', 'bob@example.com/r', 'room@muc.example.com/nick', 'a.b.example.com']) {
    assert.equal(blocked(['example.com'], jid), true, jid);
  }
  assert.equal(blocked(['example.com'], 'notexample.com'), false);
  assert.equal(blocked(['example.com'], 'example.com.evil'), false);
  assert.equal(blocked(['muc.example.com'], 'example.com'), false);
});

test('an empty list blocks nothing', () => {
  assert.equal(blocked([], 'bob@example.com'), false);
});
