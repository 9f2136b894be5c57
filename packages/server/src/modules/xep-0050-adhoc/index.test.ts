// XEP-0050 ad-hoc commands on the server JID, end to end with xmpp.js clients, running the XEP-0133 commands.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';
import type { XmlElement } from '@parley/protocol';

const CMD = 'http://jabber.org/protocol/commands';
const ADMIN = 'http://jabber.org/protocol/admin';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

function execute(c: TestClient, node: string, attrs = ''): Promise<XmlElement> {
  return c.iq(`<iq type='set' to='localhost'><command xmlns='${CMD}' node='${node}' ${attrs}/></iq>`);
}

function submit(c: TestClient, node: string, sessionid: string, fields: Record<string, string | string[]>, action = 'complete'): Promise<XmlElement> {
  const fx = Object.entries(fields)
    .map(([k, v]) => `<field var='${k}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${x}</value>`).join('')}</field>`)
    .join('');
  return c.iq(
    `<iq type='set' to='localhost'><command xmlns='${CMD}' node='${node}' sessionid='${sessionid}' action='${action}'>` +
      `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${ADMIN}</value></field>${fx}</x></command></iq>`,
  );
}

function errorOf(iq: XmlElement): { condition: string | undefined; specific: string | undefined } {
  const err = iq.getChild('error');
  return {
    condition: err?.elements().find((e) => e.attrs.xmlns === STANZAS && e.name !== 'text')?.name,
    specific: err?.elements().find((e) => e.attrs.xmlns === CMD)?.name,
  };
}

describe('XEP-0050 ad-hoc commands', () => {
  let ts: TestServer;
  let admin: TestClient;
  before(async () => {
    ts = await startTestServer({ admins: ['admin@localhost'] });
    await ts.createUser('admin');
    await ts.createUser('eve');
    admin = await ts.client('admin');
  });
  after(() => ts.stop());

  it('lists the commands at the commands node for admins only, with info per command (§2.2)', async () => {
    const items = await admin.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='${CMD}'/></iq>`);
    assert.equal(items.attrs.type, 'result');
    const nodes = items.getChild('query')!.getChildren('item').map((i) => i.attrs.node);
    assert.ok(nodes.includes(`${ADMIN}#add-user`), nodes.join(' '));
    assert.ok(nodes.includes(`${ADMIN}#get-online-users-list`));
    for (const i of items.getChild('query')!.getChildren('item')) assert.equal(i.attrs.jid, 'localhost');

    const info = await admin.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='${ADMIN}#add-user'/></iq>`);
    const q = info.getChild('query')!;
    assert.equal(q.getChild('identity')?.attrs.category, 'automation');
    assert.equal(q.getChild('identity')?.attrs.type, 'command-node');
    assert.deepEqual(q.getChildren('feature').map((f) => f.attrs.var).sort(), [CMD, 'jabber:x:data']);

    const host = await admin.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.ok(host.getChild('query')!.getChildren('feature').some((f) => f.attrs.var === CMD));

    const eve = await ts.client('eve');
    const none = await eve.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='${CMD}'/></iq>`);
    assert.equal(none.attrs.type, 'result');
    assert.equal(none.getChild('query')!.getChildren('item').length, 0);
    await eve.stop();
  });

  it('runs add-user: form, submission, completion with a note (§2.4.2); the new user can log in', async () => {
    const node = `${ADMIN}#add-user`;
    const form = await execute(admin, node, "action='execute'");
    assert.equal(form.attrs.type, 'result');
    const cmd = form.getChild('command', CMD)!;
    assert.equal(cmd.attrs.status, 'executing');
    assert.equal(cmd.attrs.node, node);
    assert.ok(cmd.attrs.sessionid);
    assert.equal(cmd.getChild('actions')?.toString(), "<actions execute='complete'><complete/></actions>");
    const x = cmd.getChild('x', 'jabber:x:data')!;
    assert.equal(x.attrs.type, 'form');
    const fields = x.getChildren('field');
    assert.equal(fields[0]!.toString(), `<field var='FORM_TYPE' type='hidden'><value>${ADMIN}</value></field>`);
    const jidField = fields.find((f) => f.attrs.var === 'accountjid')!;
    assert.equal(jidField.attrs.type, 'jid-single');
    assert.ok(jidField.getChild('required'));

    const done = await submit(admin, node, cmd.attrs.sessionid!, { accountjid: 'newbie@localhost', password: 's3cret', 'password-verify': 's3cret' });
    assert.equal(done.attrs.type, 'result', done.toString());
    const out = done.getChild('command', CMD)!;
    assert.equal(out.attrs.status, 'completed');
    assert.equal(out.attrs.sessionid, cmd.attrs.sessionid);
    assert.equal(out.getChild('note')?.toString(), "<note type='info'>created newbie@localhost</note>");

    const newbie = await ts.client('newbie', { password: 's3cret' });
    assert.equal(newbie.jid.split('/')[0], 'newbie@localhost');
    await newbie.stop();

    // §3.2 / §4.4: the session is over; reusing its id is session-expired.
    const again = await submit(admin, node, cmd.attrs.sessionid!, { accountjid: 'other@localhost', password: 'x' });
    assert.deepEqual(errorOf(again), { condition: 'not-allowed', specific: 'session-expired' });
  });

  it('reports a failed command as completed with an error note (§3.5)', async () => {
    const node = `${ADMIN}#add-user`;
    const sid = (await execute(admin, node)).getChild('command', CMD)!.attrs.sessionid!;
    const done = await submit(admin, node, sid, { accountjid: 'admin@localhost', password: 'pw' });
    const out = done.getChild('command', CMD)!;
    assert.equal(out.attrs.status, 'completed');
    assert.equal(out.getChild('note')?.attrs.type, 'error');
    assert.match(out.getChild('note')!.text(), /already exists/);
  });

  it('runs a command without fields at once, with a result form (XEP-0133 §4.15)', async () => {
    const r = await execute(admin, `${ADMIN}#get-online-users-num`);
    const cmd = r.getChild('command', CMD)!;
    assert.equal(cmd.attrs.status, 'completed');
    assert.ok(cmd.attrs.sessionid);
    const x = cmd.getChild('x', 'jabber:x:data')!;
    assert.equal(x.attrs.type, 'result');
    const num = x.getChildren('field').find((f) => f.attrs.var === 'onlineusersnum');
    assert.equal(num?.getChildText('value'), '1');
  });

  it('cancels, and rejects bad sessions, actions and payloads (§4.4)', async () => {
    const node = `${ADMIN}#change-user-password`;
    const sid = (await execute(admin, node)).getChild('command', CMD)!.attrs.sessionid!;
    // Missing required field: bad-payload, and the session stays usable.
    const partial = await submit(admin, node, sid, { accountjid: 'eve@localhost' });
    assert.deepEqual(errorOf(partial), { condition: 'bad-request', specific: 'bad-payload' });
    const prev = await execute(admin, node, `sessionid='${sid}' action='prev'`);
    assert.deepEqual(errorOf(prev), { condition: 'bad-request', specific: 'bad-action' });
    const canceled = await execute(admin, node, `sessionid='${sid}' action='cancel'`);
    assert.equal(canceled.getChild('command', CMD)!.toString(), `<command xmlns='${CMD}' node='${node}' sessionid='${sid}' status='canceled'/>`);

    const unknown = await submit(admin, node, 'no-such-session', { accountjid: 'eve@localhost', password: 'x' });
    assert.deepEqual(errorOf(unknown), { condition: 'bad-request', specific: 'bad-sessionid' });
    assert.equal(unknown.getChild('error')!.attrs.type, 'modify');

    const malformed = await execute(admin, node, "action='dance'");
    assert.deepEqual(errorOf(malformed), { condition: 'bad-request', specific: 'malformed-action' });

    const missing = await execute(admin, 'http://example.com/nothing');
    assert.equal(errorOf(missing).condition, 'item-not-found');
  });

  it('forbids non-admins (§2.2, §4.4) and keeps sessions per requester', async () => {
    const eve = await ts.client('eve', { resource: 'forbidden' });
    const r = await execute(eve, `${ADMIN}#add-user`);
    assert.equal(r.attrs.type, 'error');
    assert.deepEqual(errorOf(r), { condition: 'forbidden', specific: undefined });
    const info = await eve.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='${ADMIN}#add-user'/></iq>`);
    assert.equal(errorOf(info).condition, 'forbidden');

    // An admin's session id is worthless from another resource (§3.2: one requester/responder pair).
    const node = `${ADMIN}#announce`;
    const sid = (await execute(admin, node)).getChild('command', CMD)!.attrs.sessionid!;
    const admin2 = await ts.client('admin', { resource: 'second' });
    const stolen = await submit(admin2, node, sid, { announcement: 'hi' });
    assert.deepEqual(errorOf(stolen), { condition: 'bad-request', specific: 'bad-sessionid' });
    await admin2.stop();
    await eve.stop();
  });
});
