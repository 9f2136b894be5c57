// The chat app's account and avatar helpers that need no browser: avatar bytes checked against their hash before
// being cached under it (XEP-0084 / XEP-0153 ids are SHA-1), initials for the placeholder, the block list kept
// from XEP-0191 pushes, what a refused password change says, and the BOSH transport's stream header.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeBase64, initials, isSha1Hex, MAX_AVATAR_BYTES, sha1Hex, verifiedAvatarUrl } from '../../packages/web/src/xmpp/avatar-data';
import { passwordChangeMessage, updateBlocklist } from '../../packages/web/src/xmpp/account-rules';
import { initialRid, openFrame } from '../../packages/web/src/xmpp/bosh-framing';

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

describe('avatar data', () => {
  it('hashes like node:crypto', async () => {
    assert.equal(await sha1Hex(new Uint8Array(PNG)), sha1(PNG));
    assert.ok(isSha1Hex(sha1(PNG)));
    assert.ok(!isSha1Hex(sha1(PNG).toUpperCase()));
    assert.ok(!isSha1Hex('abc'));
  });

  it('accepts bytes that hash to the announced id, also with XML whitespace in the base64', async () => {
    const b64 = PNG.toString('base64');
    const wrapped = `\n  ${b64.slice(0, 10)}\n  ${b64.slice(10)}\n`;
    assert.equal(await verifiedAvatarUrl(wrapped, sha1(PNG)), `data:image/png;base64,${b64}`);
  });

  it("refuses a picture published under someone else's hash, so the shared cache cannot be poisoned", async () => {
    const other = Buffer.from('another picture');
    assert.equal(await verifiedAvatarUrl(other.toString('base64'), sha1(PNG)), undefined);
  });

  it('refuses what is not base64, too large, empty, or not an image type', async () => {
    assert.equal(decodeBase64('not base64!'), undefined);
    assert.equal(await verifiedAvatarUrl('%%%%', sha1(PNG)), undefined);
    assert.equal(await verifiedAvatarUrl('', sha1(Buffer.alloc(0))), undefined);
    const big = Buffer.alloc(MAX_AVATAR_BYTES + 1, 1);
    assert.equal(await verifiedAvatarUrl(big.toString('base64'), sha1(big)), undefined);
    assert.equal(await verifiedAvatarUrl(PNG.toString('base64'), sha1(PNG), 'text/html'), undefined);
    assert.equal(await verifiedAvatarUrl(PNG.toString('base64'), sha1(PNG), 'image/svg+xml'), undefined);
  });

  it('makes initials from names and addresses', () => {
    assert.equal(initials('Dave from work'), 'DF');
    assert.equal(initials('carol@localhost'), 'C');
    assert.equal(initials('jean.luc@example.org'), 'JL');
    assert.equal(initials('élodie'), 'É');
    assert.equal(initials('😀 smile'), '😀S');
    assert.equal(initials(''), '?');
  });
});

describe('block list (XEP-0191)', () => {
  it('adds and removes, sorted and without duplicates', () => {
    assert.deepEqual(updateBlocklist(['b@x'], ['a@x', 'b@x'], 'block'), ['a@x', 'b@x']);
    assert.deepEqual(updateBlocklist(['a@x', 'b@x'], ['a@x', 'c@x'], 'unblock'), ['b@x']);
    assert.deepEqual(updateBlocklist(['a@x', 'b@x'], [], 'unblock-all'), []);
  });
});

describe('password change errors (XEP-0077 §3.3)', () => {
  it("says why, with the server's text when it gave one", () => {
    assert.match(passwordChangeMessage('not-acceptable', 'too short'), /too short/);
    assert.match(passwordChangeMessage('not-authorized'), /does not let you/);
    assert.match(passwordChangeMessage(undefined), /could not be changed/);
  });
});

describe('BOSH transport', () => {
  it("turns the session creation response into the <open/> frame xmpp.js waits for, escaping the server's values", () => {
    assert.equal(openFrame({ from: 'localhost', id: 'abc' }), "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='localhost' id='abc' version='1.0'/>");
    assert.equal(openFrame({ from: "a'b", id: null }), "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='a&apos;b' version='1.0'/>");
  });

  it('starts rids at a random value far below 2^53 (XEP-0124 §7.1)', () => {
    assert.equal(initialRid(() => 0), 1);
    assert.ok(initialRid(() => 0.999999) < 2 ** 32 + 1);
    assert.ok(Number.isSafeInteger(initialRid() + 1_000_000_000));
  });
});
