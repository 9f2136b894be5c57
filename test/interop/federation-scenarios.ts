// What a user on Parley (a.test) and a user on a real peer server do with each other, the same against every peer
// (Prosody, ejabberd): the peer's user is a RawClient on the peer's c2s port inside its network namespace, Parley's
// an xmpp.js TestClient. Every wait is bounded; a failure carries the peer's log (`diagnose`).
import assert from 'node:assert/strict';
import { RawClient, type TestClient } from '../../packages/server/src/testing/harness';

export interface Federation {
  /** alice@a.test, logged in on Parley with initial presence. */
  alice: TestClient;
  /** The peer's user, bound as resource 'raw', with initial presence. */
  remote: RawClient;
  /** Bare JID of the peer's user, e.g. pat@p.test. */
  remoteJid: string;
  remoteDomain: string;
  /** The peer's multi-user chat service, e.g. conference.p.test. */
  remoteMuc: string;
  /** The peer's log, added to failures. */
  diagnose(): string;
}

const MUC = 'http://jabber.org/protocol/muc';
const WAIT_MS = 20_000;
let seq = 0;

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Waits for text from the peer's user matching `pattern`, failing with the peer's log. */
export async function remoteReceives(f: Federation, pattern: RegExp | string, timeoutMs = WAIT_MS): Promise<string> {
  return f.remote.waitFor(pattern, timeoutMs).catch((err: Error) => assert.fail(`${err.message}\n--- peer log:\n${f.diagnose()}`));
}

async function aliceReceives(f: Federation, predicate: Parameters<TestClient['waitFor']>[0], what: string, timeoutMs = WAIT_MS) {
  return f.alice.waitFor(predicate, timeoutMs).catch((err: Error) => assert.fail(`${what}: ${err.message}\n--- peer log:\n${f.diagnose()}`));
}

/** Logs the peer's user in (plain SASL on the namespace's c2s port; tests configure the peer to allow it). */
export async function connectRemote(host: string, port: number, user: string, password: string, domain: string): Promise<RawClient> {
  const client = await RawClient.connect(port, { host });
  await client.login(user, password, 'raw', domain);
  client.write(`<presence/>`);
  return client;
}

/** A chat message from alice reaches the peer's user and back; the body is unique per call. */
export async function messagesBothWays(f: Federation): Promise<void> {
  const n = ++seq;
  await f.alice.send(`<message to='${f.remoteJid}' type='chat'><body>to peer ${n}</body></message>`);
  const got = await remoteReceives(f, new RegExp(`<message [^>]*>(?:(?!</message>).)*to peer ${n}</body>`, 's'));
  assert.match(got, new RegExp(`from=['"]alice@a\\.test/[^'"]+['"][^>]*>(?:(?!</message>).)*to peer ${n}<`, 's'));
  f.remote.write(`<message to='alice@a.test' type='chat'><body>from peer ${n}</body></message>`);
  const back = await aliceReceives(f, (el) => el.name === 'message' && el.getChildText('body') === `from peer ${n}`, 'message from the peer');
  assert.equal(back.attrs.from, `${f.remoteJid}/raw`);
}

/** RFC 6120 §8.2.3: an iq to the other server is answered, both ways (software version and service discovery). */
export async function iqAnsweredBothWays(f: Federation): Promise<void> {
  const version = await f.alice.iq(`<iq type='get' to='${f.remoteDomain}'><query xmlns='jabber:iq:version'/></iq>`);
  assert.equal(version.attrs.type, 'result', version.toString());
  assert.ok(version.getChild('query')?.getChildText('name'), version.toString());
  const info = await f.alice.iq(`<iq type='get' to='${f.remoteDomain}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
  assert.equal(info.attrs.type, 'result', info.toString());
  assert.ok(info.getChild('query')?.getChildren('identity').some((i) => i.attrs.category === 'server'), info.toString());
  const id = `iq${++seq}`;
  f.remote.write(`<iq type='get' to='a.test' id='${id}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
  const answer = await remoteReceives(f, new RegExp(`<iq [^>]*id=['"]${id}['"][^>]*>`));
  const iq = new RegExp(`<iq [^>]*id=['"]${id}['"][^>]*>`).exec(answer)![0];
  assert.match(iq, /type=['"]result['"]/, answer);
  assert.match(iq, /from=['"]a\.test['"]/, answer);
}

/** RFC 6121 §8.5.2.2.1 / RFC 6120 §8.3: a message to a user the peer does not have comes back as an error from it. */
export async function unknownRemoteUserBounces(f: Federation): Promise<void> {
  const id = `bounce${++seq}`;
  await f.alice.send(`<message to='nobody@${f.remoteDomain}' type='chat' id='${id}'><body>anyone?</body></message>`);
  const err = await aliceReceives(f, (el) => el.attrs.id === id && el.attrs.type === 'error', 'bounce');
  assert.equal(err.attrs.from, `nobody@${f.remoteDomain}`);
  const condition = err.getChild('error')?.children.find((c) => typeof c !== 'string' && c.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas');
  assert.ok(condition, `a defined stanza error condition: ${err.toString()}`);
}

/** RFC 6121 §3: alice and the peer's user subscribe to each other; both see the other's presence. */
export async function subscriptionToBoth(f: Federation): Promise<void> {
  await f.alice.send(`<presence to='${f.remoteJid}' type='subscribe'/>`);
  await remoteReceives(f, new RegExp(`<presence [^>]*type=['"]subscribe['"]`));
  f.remote.write(`<presence to='alice@a.test' type='subscribed'/><presence to='alice@a.test' type='subscribe'/>`);
  await aliceReceives(f, (el) => el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from === f.remoteJid, 'subscribe from the peer');
  await f.alice.send(`<presence to='${f.remoteJid}' type='subscribed'/>`);
  // RFC 6121 §3.1.5 / §3.1.6: once subscribed, each server sends its user's current presence to the other.
  await aliceReceives(f, (el) => el.name === 'presence' && el.attrs.from === `${f.remoteJid}/raw` && el.attrs.type === undefined, 'presence of the peer user');
  await remoteReceives(f, new RegExp(`<presence [^>]*from=['"]alice@a\\.test/`));
  const roster = await f.alice.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
  const item = roster.getChild('query')?.getChildren('item').find((i) => i.attrs.jid === f.remoteJid);
  assert.equal(item?.attrs.subscription, 'both', roster.toString());
  // Broadcast (RFC 6121 §4.4.2): a new presence of alice's reaches the subscribed peer user.
  const status = `away ${++seq}`;
  await f.alice.send(`<presence><show>away</show><status>${status}</status></presence>`);
  await remoteReceives(f, new RegExp(`from=['"]alice@a\\.test/[^>]*>(?:(?!</presence>).)*${status}`, 's'));
}

/** XEP-0045: the peer's user enters alice's room on conference.a.test; they exchange a groupchat message. */
export async function remoteUserInLocalRoom(f: Federation): Promise<void> {
  const room = `fed${++seq}@conference.a.test`;
  await f.alice.send(`<presence to='${room}/Alice'><x xmlns='${MUC}'/></presence>`);
  await aliceReceives(f, (el) => el.name === 'presence' && el.attrs.from === `${room}/Alice` && el.toString().includes("code='201'"), 'room created');
  // §10.1.2: an instant room, unlocked by accepting the default configuration.
  const ok = await f.alice.iq(`<iq type='set' to='${room}'><query xmlns='${MUC}#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
  assert.equal(ok.attrs.type, 'result', ok.toString());
  f.remote.write(`<presence to='${room}/Remote'><x xmlns='${MUC}'/></presence>`);
  // §7.2.3: the occupant's own presence, with status 110, comes last.
  await remoteReceives(f, new RegExp(`<presence [^>]*from=['"]${esc(room)}/Remote['"](?:(?!</presence>).)*code=['"]110['"]`, 's'));
  await aliceReceives(f, (el) => el.name === 'presence' && el.attrs.from === `${room}/Remote`, 'the remote occupant');
  f.remote.write(`<message to='${room}' type='groupchat'><body>hi room ${seq}</body></message>`);
  await aliceReceives(f, (el) => el.name === 'message' && el.attrs.from === `${room}/Remote` && el.getChildText('body') === `hi room ${seq}`, 'groupchat from the remote occupant');
  await f.alice.send(`<message to='${room}' type='groupchat'><body>welcome ${seq}</body></message>`);
  await remoteReceives(f, new RegExp(`from=['"]${esc(room)}/Alice['"][^>]*>(?:(?!</message>).)*welcome ${seq}<`, 's'));
}

/** XEP-0045: alice enters a room the peer's user made on the peer's service; they exchange a groupchat message. */
export async function localUserInRemoteRoom(f: Federation): Promise<void> {
  const room = `fed${++seq}@${f.remoteMuc}`;
  f.remote.write(`<presence to='${room}/Owner'><x xmlns='${MUC}'/></presence>`);
  await remoteReceives(f, new RegExp(`<presence [^>]*from=['"]${esc(room)}/Owner['"](?:(?!</presence>).)*code=['"]110['"]`, 's'));
  const id = `own${seq}`;
  f.remote.write(`<iq type='set' to='${room}' id='${id}'><query xmlns='${MUC}#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
  await remoteReceives(f, new RegExp(`<iq [^>]*id=['"]${id}['"]`));
  await f.alice.send(`<presence to='${room}/Alice'><x xmlns='${MUC}'/></presence>`);
  await aliceReceives(f, (el) => el.name === 'presence' && el.attrs.from === `${room}/Alice` && el.attrs.type !== 'error' && el.toString().includes("code='110'"), 'own presence in the remote room');
  await remoteReceives(f, new RegExp(`<presence [^>]*from=['"]${esc(room)}/Alice['"]`));
  await f.alice.send(`<message to='${room}' type='groupchat'><body>hello remote room ${seq}</body></message>`);
  await remoteReceives(f, new RegExp(`from=['"]${esc(room)}/Alice['"][^>]*>(?:(?!</message>).)*hello remote room ${seq}<`, 's'));
  f.remote.write(`<message to='${room}' type='groupchat'><body>owner says ${seq}</body></message>`);
  await aliceReceives(f, (el) => el.name === 'message' && el.attrs.from === `${room}/Owner` && el.getChildText('body') === `owner says ${seq}`, 'groupchat from the remote room');
}
