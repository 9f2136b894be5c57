// XEP-0133 service administration, end to end: each command run by an admin through XEP-0050, and the same
// definitions run directly the way the CLI does (`core.commands.get(name).run(args, undefined)`).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';
import type { XmlElement } from '@parley/protocol';
import { until } from '../../testing/until';
import { runCommand } from './test-helpers';



const field = (cmd: XmlElement, name: string) =>
  cmd.getChild('x', 'jabber:x:data')?.getChildren('field').find((f) => f.attrs.var === name)?.getChildren('value').map((v) => v.text());


describe('XEP-0133 service administration', () => {
  let ts: TestServer;
  let admin: TestClient;
  before(async () => {
    ts = await startTestServer({ admins: ['admin@localhost'] });
    for (const u of ['admin', 'bob', 'carol']) await ts.createUser(u);
    admin = await ts.client('admin');
  });
  after(() => ts.stop());

  it('end-user-session closes every session of a bare JID, or just the one full JID (§4.5)', async () => {
    const phone = await ts.client('bob', { resource: 'phone' });
    const desk = await ts.client('bob', { resource: 'desk' });
    const sessions = ts.running.server.sessions;
    const one = await runCommand(admin, 'end-user-session', { accountjids: phone.jid });
    assert.equal(one.getChildText('note'), 'ended 1 session');
    await until('phone disconnected', () => phone.xmpp.status === 'disconnect' || phone.xmpp.status === 'offline');
    assert.deepEqual(sessions.ofAccount('bob@localhost').map((s) => s.jid.toString()), [desk.jid]);
    assert.equal(desk.xmpp.status, 'online');

    const again = await ts.client('bob', { resource: 'tablet' });
    const all = await runCommand(admin, 'end-user-session', { accountjids: 'bob@localhost' });
    assert.equal(all.getChildText('note'), 'ended 2 sessions');
    await until('all of bob gone', () => sessions.ofAccount('bob@localhost').length === 0);
    await until('clients disconnected', () => desk.xmpp.status !== 'online' && again.xmpp.status !== 'online');
    // A kick, not a ban: bob can come back.
    const back = await ts.client('bob', { resource: 'back' });
    assert.equal(back.xmpp.status, 'online');
    await back.stop();
  });

  it('announce reaches every online user as a headline from the server (§4.23)', async () => {
    const bob = await ts.client('bob', { resource: 'news' });
    const carol = await ts.client('carol', { resource: 'news' });
    const out = await runCommand(admin, 'announce', { announcement: ['Maintenance at noon.', '', 'Thanks!'] });
    assert.match(out.getChildText('note')!, /announcement sent to \d+ sessions/);
    for (const c of [bob, carol, admin]) {
      const m = await c.waitFor((el) => el.name === 'message' && el.attrs.from === 'localhost');
      assert.equal(m.attrs.type, 'headline');
      assert.equal(m.getChildText('body'), 'Maintenance at noon.\n\nThanks!');
    }
    await bob.stop();
    await carol.stop();
  });

  it('counts and lists online and registered users (§4.13, §4.15, §4.20)', async () => {
    const carol = await ts.client('carol', { resource: 'count' });
    await until('carol online', () => ts.running.server.sessions.hasAccount('carol@localhost'));
    const num = await runCommand(admin, 'get-online-users-num');
    assert.deepEqual(field(num, 'onlineusersnum'), ['2']);
    const list = await runCommand(admin, 'get-online-users-list', { max_items: '25' });
    assert.deepEqual(field(list, 'onlineuserjids'), ['admin@localhost', 'carol@localhost']);
    const reg = await runCommand(admin, 'get-registered-users-num');
    assert.deepEqual(field(reg, 'registeredusersnum'), ['3']);
    await carol.stop();
  });

  it('changes a password and deletes users, closing their sessions (§4.2, §4.7)', async () => {
    await runCommand(admin, 'change-user-password', { accountjid: 'carol@localhost', password: 'n3w' });
    await assert.rejects(ts.client('carol', { resource: 'old' }));
    const carol = await ts.client('carol', { password: 'n3w', resource: 'new' });
    await ts.createUser('dave');
    const del = await runCommand(admin, 'delete-user', { accountjids: ['carol@localhost', 'dave@localhost'] });
    assert.equal(del.getChildText('note'), 'deleted carol@localhost; deleted dave@localhost');
    await until('carol disconnected', () => carol.xmpp.status !== 'online');
    assert.equal(await ts.running.server.accounts.exists('carol'), false);
    const missing = await runCommand(admin, 'delete-user', { accountjids: 'nobody@localhost' });
    assert.equal(missing.getChild('note')?.attrs.type, 'error');
  });

  it('runs the same definitions without XMPP, as the CLI does', async () => {
    const commands = ts.running.server.commands;
    const added = await commands.get('add-user')!.run({ accountjid: 'erin', password: 'pw' }, undefined);
    assert.equal(added.note, 'created erin@localhost');
    await assert.rejects(commands.get('add-user')!.run({ accountjid: 'x@elsewhere.example', password: 'pw' }, undefined), /not on this server/);
    await assert.rejects(commands.get('add-user')!.run({ accountjid: 'frank', password: 'a', 'password-verify': 'b' }, undefined), /do not match/);
    const erin = await ts.client('erin', { password: 'pw' });
    await erin.stop();
  });
});
