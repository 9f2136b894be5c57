import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SaslFailure,
  StanzaError,
  StreamError,
  readStanzaError,
  type StanzaErrorCondition,
  type StanzaErrorType,
} from './errors';
import { NS } from './ns';
import { xml } from './xml/element';
import { parseXml } from './xml/stream-parser';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

test('NS constants used by errors are the RFC 6120 namespaces', () => {
  assert.equal(NS.STANZAS, STANZAS);
  assert.equal(NS.STREAMS, 'urn:ietf:params:xml:ns:xmpp-streams');
  assert.equal(NS.SASL, 'urn:ietf:params:xml:ns:xmpp-sasl');
});

// RFC 6120 §8.3.3: the error type each defined condition usually carries.
const RFC_TYPES: Record<StanzaErrorCondition, StanzaErrorType> = {
  'bad-request': 'modify', // §8.3.3.1
  conflict: 'cancel', // §8.3.3.2
  'feature-not-implemented': 'cancel', // §8.3.3.3
  forbidden: 'auth', // §8.3.3.4
  gone: 'cancel', // §8.3.3.5
  'internal-server-error': 'cancel', // §8.3.3.6
  'item-not-found': 'cancel', // §8.3.3.7
  'jid-malformed': 'modify', // §8.3.3.8
  'not-acceptable': 'modify', // §8.3.3.9
  'not-allowed': 'cancel', // §8.3.3.10
  'not-authorized': 'auth', // §8.3.3.11
  'policy-violation': 'modify', // §8.3.3.12 (modify or wait)
  'recipient-unavailable': 'wait', // §8.3.3.13
  redirect: 'modify', // §8.3.3.14
  'registration-required': 'auth', // §8.3.3.15
  'remote-server-not-found': 'cancel', // §8.3.3.16
  'remote-server-timeout': 'wait', // §8.3.3.17
  'resource-constraint': 'wait', // §8.3.3.18
  'service-unavailable': 'cancel', // §8.3.3.19
  'subscription-required': 'auth', // §8.3.3.20
  'undefined-condition': 'cancel', // §8.3.3.21 (any type)
  'unexpected-request': 'wait', // §8.3.3.22 (wait or modify)
};

for (const [condition, type] of Object.entries(RFC_TYPES) as [StanzaErrorCondition, StanzaErrorType][]) {
  test(`StanzaError('${condition}') defaults to type '${type}'`, () => {
    const err = new StanzaError(condition);
    assert.equal(err.type, type);
    assert.equal(err.condition, condition);
    assert.equal(err.toElement().attrs.type, type);
  });
}

test('StanzaError is an Error whose message is the text or the condition', () => {
  const plain = new StanzaError('item-not-found');
  assert.ok(plain instanceof Error);
  assert.equal(plain.message, 'item-not-found');
  assert.equal(plain.text, undefined);
  const withText = new StanzaError('forbidden', 'Members only');
  assert.equal(withText.message, 'Members only');
  assert.equal(withText.text, 'Members only');
});

test('StanzaError options: explicit type, by, redirect, application condition', () => {
  const app = xml('unsupported', { xmlns: 'http://jabber.org/protocol/pubsub#errors', feature: 'publish' });
  const err = new StanzaError('feature-not-implemented', undefined, { type: 'modify', by: 'pubsub.example.com', appCondition: app });
  assert.equal(err.type, 'modify');
  assert.equal(err.by, 'pubsub.example.com');
  assert.equal(err.appCondition, app);
  assert.equal(err.redirect, undefined);
});

test('toElement: <error type><condition xmlns=stanzas/></error> without text', () => {
  assert.equal(
    new StanzaError('service-unavailable').toElement().toString(),
    `<error type='cancel'><service-unavailable xmlns='${STANZAS}'/></error>`,
  );
});

test('toElement: condition, then text, then the application condition (RFC 6120 §8.3.2)', () => {
  const err = new StanzaError('not-acceptable', 'Body too long & rude', {
    by: 'example.com',
    appCondition: xml('too-long', { xmlns: 'urn:example:errors' }),
  });
  assert.equal(
    err.toElement().toString(),
    `<error type='modify' by='example.com'><not-acceptable xmlns='${STANZAS}'/>` +
      `<text xmlns='${STANZAS}' xml:lang='en'>Body too long &amp; rude</text><too-long xmlns='urn:example:errors'/></error>`,
  );
});

test('toElement: redirect and gone carry the new address as character data', () => {
  assert.equal(
    new StanzaError('redirect', undefined, { redirect: 'xmpp:room@conference.example.com' }).toElement().toString(),
    `<error type='modify'><redirect xmlns='${STANZAS}'>xmpp:room@conference.example.com</redirect></error>`,
  );
  assert.equal(
    new StanzaError('gone', undefined, { redirect: 'xmpp:new@example.com' }).toElement().toString(),
    `<error type='cancel'><gone xmlns='${STANZAS}'>xmpp:new@example.com</gone></error>`,
  );
});

test('toElement returns a fresh element every time', () => {
  const err = new StanzaError('conflict');
  const a = err.toElement();
  a.attrs.type = 'wait';
  assert.equal(err.toElement().attrs.type, 'cancel');
});

test('StreamError element: <stream:error><condition xmlns=streams/><text/></stream:error>', () => {
  const streams = 'urn:ietf:params:xml:ns:xmpp-streams';
  assert.equal(new StreamError('not-well-formed').toElement().toString(), `<stream:error><not-well-formed xmlns='${streams}'/></stream:error>`);
  const err = new StreamError('policy-violation', 'stanza too large');
  assert.ok(err instanceof Error);
  assert.equal(err.condition, 'policy-violation');
  assert.equal(err.message, 'stanza too large');
  assert.equal(
    err.toElement().toString(),
    `<stream:error><policy-violation xmlns='${streams}'/><text xmlns='${streams}' xml:lang='en'>stanza too large</text></stream:error>`,
  );
  assert.equal(new StreamError('conflict').message, 'conflict');
});

test('SaslFailure element: <failure xmlns=sasl><condition/><text/></failure>', () => {
  const sasl = 'urn:ietf:params:xml:ns:xmpp-sasl';
  assert.equal(new SaslFailure('not-authorized').toElement().toString(), `<failure xmlns='${sasl}'><not-authorized/></failure>`);
  const err = new SaslFailure('account-disabled', 'Call 212-555-1212 for help');
  assert.ok(err instanceof Error);
  assert.equal(err.message, 'Call 212-555-1212 for help');
  assert.equal(
    err.toElement().toString(),
    `<failure xmlns='${sasl}'><account-disabled/><text xml:lang='en'>Call 212-555-1212 for help</text></failure>`,
  );
  // The condition and text inherit the SASL namespace.
  const el = err.toElement();
  assert.equal(el.getChild('account-disabled', sasl)?.name, 'account-disabled');
  assert.equal(el.getChildText('text', sasl), 'Call 212-555-1212 for help');
});

test('readStanzaError reads type, condition and text', () => {
  const stanza = parseXml(
    `<iq type='error' id='1'><query xmlns='jabber:iq:roster'/><error type='auth' by='example.com'>` +
      `<forbidden xmlns='${STANZAS}'/><text xmlns='${STANZAS}' xml:lang='en'>No</text>` +
      `<app xmlns='urn:example'/></error></iq>`,
  );
  assert.deepEqual(readStanzaError(stanza), { type: 'auth', condition: 'forbidden', text: 'No' });
});

test('readStanzaError round-trips StanzaError.toElement', () => {
  const err = new StanzaError('resource-constraint', 'Slow down', { appCondition: xml('x', { xmlns: 'urn:example' }) });
  const stanza = xml('message', { type: 'error' }, err.toElement());
  assert.deepEqual(readStanzaError(parseXml(stanza.toString())), { type: 'wait', condition: 'resource-constraint', text: 'Slow down' });
});

test('readStanzaError: no <error/> child, missing condition, missing type', () => {
  assert.equal(readStanzaError(xml('message', { type: 'chat' }, xml('body', null, 'hi'))), undefined);
  assert.deepEqual(readStanzaError(parseXml(`<message type='error'><error type='cancel'/></message>`)), {
    type: 'cancel',
    condition: 'undefined-condition',
    text: undefined,
  });
  assert.deepEqual(readStanzaError(parseXml(`<message type='error'><error><gone xmlns='${STANZAS}'>xmpp:x@y</gone></error></message>`)), {
    type: '',
    condition: 'gone',
    text: undefined,
  });
});

test('readStanzaError ignores conditions outside the stanzas namespace', () => {
  const stanza = parseXml(`<message type='error'><error type='modify'><custom xmlns='urn:example'/><bad-request xmlns='${STANZAS}'/></error></message>`);
  assert.equal(readStanzaError(stanza)?.condition, 'bad-request');
});
