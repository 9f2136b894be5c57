import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XmlElement, escapeAttr, escapeText, xml } from './element';
import { parseXml } from './stream-parser';

test('escapeText escapes & < > and leaves quotes alone', () => {
  assert.equal(escapeText(`a & b < c > d ' "`), `a &amp; b &lt; c &gt; d ' "`);
  assert.equal(escapeText('plain'), 'plain');
  // ]]> must never appear raw in character data.
  assert.equal(escapeText(']]>'), ']]&gt;');
});

test('escapeAttr escapes & < > \' "', () => {
  assert.equal(escapeAttr(`a&b<c>d'e"f`), 'a&amp;b&lt;c&gt;d&apos;e&quot;f');
  assert.equal(escapeAttr('plain'), 'plain');
});

test('escaping is stable across repeated calls (no regex lastIndex state)', () => {
  for (let i = 0; i < 5; i++) {
    assert.equal(escapeText('x&y'), 'x&amp;y');
    assert.equal(escapeText('&'), '&amp;');
    assert.equal(escapeAttr("'"), '&apos;');
    assert.equal(escapeAttr('ab"'), 'ab&quot;');
  }
});

test('toString serialises attributes with single quotes and escapes text and attributes', () => {
  const el = xml('message', { to: "o'brien@example.com", type: 'chat' }, xml('body', null, 'if a < b && c > d'));
  assert.equal(
    el.toString(),
    "<message to='o&apos;brien@example.com' type='chat'><body>if a &lt; b &amp;&amp; c &gt; d</body></message>",
  );
});

test('toString of an empty element is self-closing; empty text keeps an explicit close', () => {
  assert.equal(xml('presence').toString(), '<presence/>');
  assert.equal(xml('body', null, '').toString(), '<body></body>');
});

test('whitespace that XML would normalise is escaped so that it survives a round trip', () => {
  // XML 1.0 §3.3.3 normalises tab/CR/LF in attribute values to spaces; §2.11 turns CR into LF in text.
  const el = xml('x', { a: 'line1\nline2\tend\r' }, 'text\r\nmore');
  const back = parseXml(el.toString());
  assert.equal(back.attrs.a, 'line1\nline2\tend\r');
  assert.equal(back.text(), 'text\r\nmore');
});

test('serialise → parse round trip preserves names, attributes, text and nesting', () => {
  const el = xml(
    'iq',
    { type: 'set', id: 'a&1', xmlns: 'jabber:client' },
    xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'x@y', name: `<"me">` }, xml('group', null, 'A & B'))),
  );
  const back = parseXml(el.toString());
  assert.deepEqual(back, el);
  assert.equal(back.toString(), el.toString());
});

test('openTag serialises only the opening tag', () => {
  const el = xml('stream:stream', { 'xmlns:stream': 'http://etherx.jabber.org/streams', to: 'a&b' }, xml('x'));
  assert.equal(el.openTag(), "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='a&amp;b'>");
});

test('xml() drops undefined attributes and falsy children', () => {
  const el = xml('iq', { type: 'get', to: undefined, id: '' }, null, undefined, false, xml('ping'), 'text');
  assert.deepEqual(el.attrs, { type: 'get', id: '' });
  assert.equal('to' in el.attrs, false);
  assert.equal(el.children.length, 2);
  assert.equal(el.toString(), "<iq type='get' id=''><ping/>text</iq>");
});

test('xml() with null attributes yields an empty attribute map', () => {
  assert.deepEqual(xml('a', null).attrs, {});
  assert.deepEqual(xml('a').attrs, {});
});

test('attr, setAttr and xmlns', () => {
  const el = new XmlElement('query', { xmlns: 'jabber:iq:roster' });
  assert.equal(el.xmlns, 'jabber:iq:roster');
  assert.equal(el.attr('ver'), undefined);
  assert.equal(el.setAttr('ver', '1').attr('ver'), '1');
  el.setAttr('ver', undefined);
  assert.equal('ver' in el.attrs, false);
  assert.equal(new XmlElement('x').xmlns, undefined);
});

test('getChild matches by name, and by namespace with inheritance from the parent', () => {
  const el = parseXml(
    "<iq xmlns='jabber:client'><error/><query xmlns='jabber:iq:roster'><item jid='a@b'/></query><query xmlns='other'/></iq>",
  );
  // <error/> declares no xmlns, so it is in its parent's namespace.
  assert.equal(el.getChild('error', 'jabber:client')?.name, 'error');
  assert.equal(el.getChild('error', 'jabber:iq:roster'), undefined);
  assert.equal(el.getChild('query')?.attrs.xmlns, 'jabber:iq:roster');
  assert.equal(el.getChild('query', 'other')?.attrs.xmlns, 'other');
  assert.equal(el.getChild('query', 'jabber:client'), undefined);
  assert.equal(el.getChild('missing'), undefined);
  const query = el.getChild('query', 'jabber:iq:roster')!;
  assert.equal(query.getChild('item', 'jabber:iq:roster')?.attrs.jid, 'a@b');
});

test('getChild with a namespace skips text nodes and elements of other namespaces', () => {
  const el = xml('message', null, 'hi', xml('x', { xmlns: 'a' }), xml('x', { xmlns: 'b' }));
  assert.equal(el.getChild('x', 'b')?.attrs.xmlns, 'b');
  assert.equal(el.getChild('x')?.attrs.xmlns, 'a');
});

test('getChildren filters by name and namespace', () => {
  const el = xml(
    'query',
    { xmlns: 'jabber:iq:roster' },
    xml('item', { jid: '1' }),
    'ws',
    xml('item', { jid: '2', xmlns: 'other' }),
    xml('group'),
  );
  assert.deepEqual(el.getChildren('item').map((c) => c.attrs.jid), ['1', '2']);
  assert.deepEqual(el.getChildren('item', 'jabber:iq:roster').map((c) => c.attrs.jid), ['1']);
  assert.deepEqual(el.getChildren(undefined, 'other').map((c) => c.attrs.jid), ['2']);
  assert.equal(el.getChildren().length, 3);
  assert.equal(el.elements().length, 3);
});

test('getChildByNs finds the first child element in a namespace, whatever its name', () => {
  const el = parseXml(
    "<iq xmlns='jabber:client' type='get'>\n  <ping xmlns='urn:xmpp:ping'/><query xmlns='jabber:iq:version'/></iq>",
  );
  assert.equal(el.getChildByNs('urn:xmpp:ping')?.name, 'ping');
  assert.equal(el.getChildByNs('jabber:iq:version')?.name, 'query');
  assert.equal(el.getChildByNs('urn:nothing'), undefined);
});

test('getChildByNs follows the same namespace inheritance as getChild', () => {
  const el = xml('iq', { xmlns: 'jabber:client' }, xml('error'));
  assert.equal(el.getChild('error', 'jabber:client')?.name, 'error');
  assert.equal(el.getChildByNs('jabber:client')?.name, 'error');
});

test('text and getChildText concatenate direct text only', () => {
  const el = xml('message', null, xml('body', null, 'Hello, ', 'world', xml('b', null, 'ignored')));
  assert.equal(el.getChildText('body'), 'Hello, world');
  assert.equal(el.getChildText('subject'), undefined);
  assert.equal(el.text(), '');
});

test('builder: c() returns the child, t() and append() return the parent', () => {
  const iq = new XmlElement('iq', { type: 'result' });
  const query = iq.c('query', { xmlns: 'jabber:iq:roster' });
  query.c('item', { jid: 'a@b' }).t('x');
  assert.equal(iq.append(null, false, undefined, xml('y')), iq);
  assert.equal(iq.toString(), "<iq type='result'><query xmlns='jabber:iq:roster'><item jid='a@b'>x</item></query><y/></iq>");
});

test('removeChildren removes by name, and only in the given namespace when one is given', () => {
  const el = xml(
    'message',
    { xmlns: 'jabber:client' },
    xml('delay', { xmlns: 'urn:xmpp:delay' }),
    xml('delay', { xmlns: 'other' }),
    xml('body', null, 'hi'),
    'text',
  );
  el.removeChildren('delay', 'urn:xmpp:delay');
  assert.deepEqual(el.getChildren('delay').map((c) => c.attrs.xmlns), ['other']);
  el.removeChildren('delay');
  assert.equal(el.getChild('delay'), undefined);
  assert.equal(el.getChildText('body'), 'hi');
  assert.equal(el.text(), 'text');
  // Inherited namespace: <body/> is in jabber:client.
  el.removeChildren('body', 'urn:other');
  assert.ok(el.getChild('body'));
  el.removeChildren('body', 'jabber:client');
  assert.equal(el.getChild('body'), undefined);
});

test('clone is deep: changes to the copy never reach the original', () => {
  const original = xml('message', { to: 'a@b' }, xml('body', null, 'hi'), xml('x', { xmlns: 'n' }, xml('y')));
  const before = original.toString();
  const copy = original.clone();
  assert.deepEqual(copy, original);
  assert.notEqual(copy, original);
  copy.attrs.to = 'c@d';
  copy.getChild('body')!.children.push(' there');
  copy.getChild('x')!.getChild('y')!.attrs.z = '1';
  copy.getChild('x')!.c('new');
  copy.c('delay');
  assert.equal(original.toString(), before);
});

test('shallowClone copies attributes but shares children', () => {
  const original = xml('message', { to: 'a@b' }, xml('body', null, 'hi'));
  const copy = original.shallowClone();
  copy.attrs.to = 'c@d';
  assert.equal(original.attrs.to, 'a@b');
  assert.equal(copy.children, original.children);
});
