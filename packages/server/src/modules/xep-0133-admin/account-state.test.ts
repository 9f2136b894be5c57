// XEP-0133 §4.3–§4.4 disable and re-enable a user (a disabled account fails SASL with account-disabled, RFC 6120
// §6.5.1, its sessions end, its data stays) and §4.24–§4.26 the message of the day shown at login.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';
import { until } from '../../testing/until';
import { ADMIN, CMD, runCommand, startCommand } from './test-helpers';





const PRIVATE = `<query xmlns='jabber:iq:private'><note xmlns='urn:example:notes'>kept</note></query>`;

describe('XEP-0133 disable/re-enable users and the message of the day', () => {
  let ts: TestServer;
  let admin: TestClient;
  before(async () => {
    ts = await startTestServer({ admins: ['admin@localhost'] });
    for (const u of ['admin', 'bob', 'carol']) await ts.createUser(u);
    admin = await ts.client('admin');
  });
  after(() => ts.stop());

  it('a disabled account cannot log in, its sessions end, and re-enabled it has its data back', async () => {
    const bob = await ts.client('bob');
    const stored = await bob.iq(`<iq type='set'>${PRIVATE}</iq>`);
    assert.equal(stored.attrs.type, 'result', stored.toString());

    const done = await runCommand(admin, 'disable-user', { accountjids: 'bob@localhost' });
    assert.equal(done.getChildText('note'), 'disabled bob@localhost');
    await until('bob disconnected', () => bob.xmpp.status === 'disconnect' || bob.xmpp.status === 'offline');
    assert.deepEqual(ts.running.server.sessions.ofAccount('bob@localhost'), []);
    // RFC 6120 §6.5.1: the right password, and still <account-disabled/>.
    await assert.rejects(ts.client('bob'), (err: { condition?: string }) => err.condition === 'account-disabled');
    // Others are not affected.
    const carol = await ts.client('carol');
    await carol.stop();

    const back = await runCommand(admin, 'reenable-user', { accountjids: 'bob@localhost' });
    assert.equal(back.getChildText('note'), 're-enabled bob@localhost');
    const again = await ts.client('bob');
    const r = await again.iq(`<iq type='get'><query xmlns='jabber:iq:private'><note xmlns='urn:example:notes'/></query></iq>`);
    assert.equal(r.getChild('query')?.getChild('note')?.text(), 'kept');
    await again.stop();
  });

  it('shows the message of the day at login; edit shows the current one; delete removes it', async () => {
    const online = await ts.client('carol', { resource: 'online' });
    const seenOnline = online.waitFor((el) => el.name === 'message' && el.attrs.from === 'localhost' && el.getChildText('body') === 'Maintenance at 18:00');
    await runCommand(admin, 'set-motd', { motd: 'Maintenance at 18:00' });
    await seenOnline;

    const fresh = await ts.client('carol', { resource: 'fresh' });
    const motd = await fresh.waitFor((el) => el.name === 'message' && el.attrs.from === 'localhost');
    assert.equal(motd.getChildText('body'), 'Maintenance at 18:00');

    // §4.25: the edit form carries the current message.
    const form = await startCommand(admin, 'edit-motd');
    const value = form.getChild('x', 'jabber:x:data')!.getChildren('field').find((f) => f.attrs.var === 'motd')!.getChildren('value').map((v) => v.text());
    assert.deepEqual(value, ['Maintenance at 18:00']);
    await admin.iq(`<iq type='set' to='localhost'><command xmlns='${CMD}' node='${ADMIN}#edit-motd' sessionid='${form.attrs.sessionid}' action='cancel'/></iq>`);
    await runCommand(admin, 'edit-motd', { motd: ['Maintenance moved', 'to 20:00'] });
    const edited = await ts.client('carol', { resource: 'edited' });
    assert.equal((await edited.waitFor((el) => el.name === 'message' && el.attrs.from === 'localhost')).getChildText('body'), 'Maintenance moved\nto 20:00');

    await runCommand(admin, 'delete-motd');
    const after = await ts.client('carol', { resource: 'after' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(after.received.find((el) => el.name === 'message' && el.attrs.from === 'localhost'), undefined);
    await Promise.all([online.stop(), fresh.stop(), edited.stop(), after.stop()]);
  });
});
