import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('lets a burst through, then asks for the time the debt takes to pay back at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(1000, 2000, () => now);
    assert.equal(bucket.take(1500), 0);
    assert.equal(bucket.take(500), 0);
    // 1,000 units owed at 1,000 a second: one second.
    assert.equal(bucket.take(1000), 1000);
    now = 1000;
    assert.equal(bucket.take(0), 0, 'paid back after the wait');
    assert.equal(bucket.isFull, false);
    now = 3000;
    assert.equal(bucket.isFull, true, 'refilled up to the burst, not past it');
    assert.equal(bucket.take(2001), 1);
  });
});
