// Helpers for the MUC end-to-end tests (not a test file itself).
import assert from 'node:assert/strict';
import type { XmlElement } from '@parley/protocol';
import type { TestClient } from '../../testing/harness';

export const MUC = 'http://jabber.org/protocol/muc';
export const MUC_USER = 'http://jabber.org/protocol/muc#user';
export const MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
export const MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
export const SERVICE = 'conference.localhost';

export function codes(el: XmlElement): number[] {
  return (el.getChild('x', MUC_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code)).sort();
}

export function item(el: XmlElement): Record<string, string> {
  return el.getChild('x', MUC_USER)?.getChild('item')?.attrs ?? {};
}

export function errorOf(el: XmlElement): string | undefined {
  return el.getChild('error')?.elements()[0]?.name;
}

/** Waits for a stanza received from now on (ignores what already arrived). */
export function next(c: TestClient, pred: (el: XmlElement) => boolean, timeoutMs = 3000): Promise<XmlElement> {
  const start = c.received.length;
  return c.waitFor((el) => c.received.indexOf(el) >= start && pred(el), timeoutMs);
}

/** Asserts that nothing matching arrives within a short time. */
export async function none(c: TestClient, pred: (el: XmlElement) => boolean, ms = 200): Promise<void> {
  const start = c.received.length;
  await new Promise((r) => setTimeout(r, ms));
  const got = c.received.slice(start).find(pred);
  assert.equal(got?.toString(), undefined);
}

export const presenceFrom = (from: string, type?: string) => (el: XmlElement) =>
  el.name === 'presence' && el.attrs.from === from && el.attrs.type === type;
export const messageFrom = (from: string) => (el: XmlElement) => el.name === 'message' && el.attrs.from === from;

/** Sends the join presence; resolves with the self-presence (status 110) or the error presence. */
export async function join(c: TestClient, room: string, nick: string, x = `<x xmlns='${MUC}'/>`): Promise<XmlElement> {
  const occ = `${room}@${SERVICE}/${nick}`;
  const p = next(c, (el) => el.name === 'presence' && el.attrs.from === occ && (codes(el).includes(110) || el.attrs.type === 'error'));
  await c.send(`<presence to='${occ}'>${x}</presence>`);
  return p;
}

/** Joins and waits for the subject (the end of the join sequence). */
export async function joinFully(c: TestClient, room: string, nick: string, x?: string): Promise<XmlElement> {
  const subject = next(c, (el) => el.name === 'message' && el.attrs.from?.startsWith(`${room}@${SERVICE}`) === true && el.getChild('subject') !== undefined && !el.getChild('body'));
  const self = await join(c, room, nick, x);
  assert.notEqual(self.attrs.type, 'error', self.toString());
  await subject;
  return self;
}

/** Creates a room: join (201), then submit the given config fields (none → an instant room, §10.1.2). */
export async function createRoom(c: TestClient, room: string, nick: string, fields: Record<string, string | string[]> = {}): Promise<void> {
  const self = await joinFully(c, room, nick);
  assert.deepEqual(codes(self), [110, 201]);
  const r = await configure(c, room, fields);
  assert.equal(r.attrs.type, 'result', r.toString());
}

export function configure(c: TestClient, room: string, fields: Record<string, string | string[]>): Promise<XmlElement> {
  const f = Object.entries(fields)
    .map(([k, v]) => `<field var='${k}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${x}</value>`).join('')}</field>`)
    .join('');
  const formType = f ? `<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>` : '';
  return c.iq(`<iq type='set' to='${room}@${SERVICE}'><query xmlns='${MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'>${formType}${f}</x></query></iq>`);
}

export function admin(c: TestClient, room: string, items: string, type: 'get' | 'set' = 'set'): Promise<XmlElement> {
  return c.iq(`<iq type='${type}' to='${room}@${SERVICE}'><query xmlns='${MUC_ADMIN}'>${items}</query></iq>`);
}
