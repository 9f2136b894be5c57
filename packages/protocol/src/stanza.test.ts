import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorReply, iqPayload, iqResult, isStanza, newId } from './stanza';
import { StanzaError, readStanzaError } from './errors';
import { xml } from './xml/element';
import { parseXml } from './xml/stream-parser';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

test('isStanza recognises message, presence and iq only', () => {
  assert.ok(isStanza(xml('message')));
  assert.ok(isStanza(xml('presence')));
  assert.ok(isStanza(xml('iq')));
  assert.ok(!isStanza(xml('auth')));
  assert.ok(!isStanza(xml('stream:features')));
  assert.ok(!isStanza(xml('r', { xmlns: 'urn:xmpp:sm:3' })));
});

test('iqResult swaps to and from and keeps the id (RFC 6120 §8.2.3)', () => {
  const request = parseXml(`<iq type='get' id='ping-1' from='juliet@example.com/balcony' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`);
  const result = iqResult(request);
  assert.equal(result.toString(), `<iq type='result' id='ping-1' to='juliet@example.com/balcony' from='example.com'/>`);
});

test('iqResult omits addresses the request did not carry', () => {
  const result = iqResult(xml('iq', { type: 'get', id: 'x' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
  assert.deepEqual(result.attrs, { type: 'result', id: 'x' });
  const noFrom = iqResult(xml('iq', { type: 'set', id: 'y', to: 'a@b' }));
  assert.deepEqual(noFrom.attrs, { type: 'result', id: 'y', from: 'a@b' });
});

test('iqResult carries an optional payload and does not alter the request', () => {
  const request = xml('iq', { type: 'get', id: 'v1', from: 'a@b/c', to: 'b' }, xml('query', { xmlns: 'jabber:iq:version' }));
  const before = request.toString();
  const result = iqResult(request, xml('query', { xmlns: 'jabber:iq:version' }, xml('name', null, 'Parley')));
  assert.equal(
    result.toString(),
    `<iq type='result' id='v1' to='a@b/c' from='b'><query xmlns='jabber:iq:version'><name>Parley</name></query></iq>`,
  );
  assert.equal(request.toString(), before);
  assert.equal(iqResult(request, null).children.length, 0);
});

test('errorReply for an iq: type error, swapped addresses, same id, payload echoed, then <error/>', () => {
  const request = parseXml(
    `<iq type='set' id='r1' from='juliet@example.com/balcony' to='example.com'><query xmlns='jabber:iq:roster'><item jid='nurse@example.com'/></query></iq>`,
  );
  const reply = errorReply(request, new StanzaError('not-allowed'));
  assert.equal(
    reply.toString(),
    `<iq id='r1' type='error' to='juliet@example.com/balcony' from='example.com'>` +
      `<query xmlns='jabber:iq:roster'><item jid='nurse@example.com'/></query>` +
      `<error type='cancel'><not-allowed xmlns='${STANZAS}'/></error></iq>`,
  );
  assert.deepEqual(readStanzaError(reply), { type: 'cancel', condition: 'not-allowed', text: undefined });
});

test('errorReply only ever changes the stanza type to error', () => {
  for (const [name, type] of [
    ['iq', 'get'],
    ['iq', 'set'],
    ['message', 'chat'],
    ['message', 'groupchat'],
    ['message', 'normal'],
    ['message', undefined],
    ['presence', 'subscribe'],
    ['presence', undefined],
  ] as const) {
    const reply = errorReply(xml(name, { type, id: 'i', from: 'a@b/c', to: 'd@e' }), new StanzaError('service-unavailable'));
    assert.equal(reply.name, name);
    assert.equal(reply.attrs.type, 'error');
    assert.equal(reply.attrs.to, 'a@b/c');
    assert.equal(reply.attrs.from, 'd@e');
    assert.equal(reply.attrs.id, 'i');
  }
});

test('errorReply for a message does not echo the body unless asked', () => {
  const message = xml('message', { type: 'chat', id: 'm1', from: 'a@b/c', to: 'd@e' }, xml('body', null, 'secret'));
  const plain = errorReply(message, new StanzaError('recipient-unavailable'));
  assert.equal(plain.getChild('body'), undefined);
  assert.equal(
    plain.toString(),
    `<message id='m1' type='error' to='a@b/c' from='d@e'><error type='wait'><recipient-unavailable xmlns='${STANZAS}'/></error></message>`,
  );
  const echoed = errorReply(message, new StanzaError('recipient-unavailable'), true);
  assert.equal(echoed.getChildText('body'), 'secret');
  assert.equal(echoed.elements().at(-1)?.name, 'error');
});

test('errorReply omits id and addresses that the original lacked', () => {
  const reply = errorReply(xml('presence', { type: 'subscribe' }), new StanzaError('forbidden'));
  assert.deepEqual(reply.attrs, { type: 'error' });
});

test('errorReply replaces an existing <error/> rather than adding a second one', () => {
  const stanza = xml('iq', { type: 'set', id: '1' }, xml('query', { xmlns: 'q' }), xml('error', { type: 'cancel' }));
  const reply = errorReply(stanza, new StanzaError('bad-request', 'nope'));
  assert.equal(reply.getChildren('error').length, 1);
  assert.equal(readStanzaError(reply)?.condition, 'bad-request');
  assert.equal(readStanzaError(reply)?.text, 'nope');
});

test('errorReply drops whitespace text from the echoed payload and leaves the original intact', () => {
  const request = parseXml(`<iq type='get' id='2' to='x'>\n  <query xmlns='jabber:iq:version'/>\n</iq>`);
  const before = request.toString();
  const reply = errorReply(request, new StanzaError('feature-not-implemented'));
  assert.equal(reply.children.length, 2);
  assert.equal(reply.text(), '');
  assert.equal(request.toString(), before);
});

test('iqPayload returns the first child element, skipping whitespace', () => {
  const iq = parseXml(`<iq type='get' id='1'>\n <ping xmlns='urn:xmpp:ping'/></iq>`);
  assert.equal(iqPayload(iq)?.name, 'ping');
  assert.equal(iqPayload(xml('iq', { type: 'result', id: '1' })), undefined);
});

test('newId returns distinct non-empty ids', () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newId()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[a-z0-9]+$/);
});
