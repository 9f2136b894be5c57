// Persistent rooms are recreated at start (§10.2 muc#roomconfig_persistentroom); history selection (§7.2.15).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Jid, xml } from '@parley/protocol';
import { createMemoryStorage } from '../../storage';
import type { Storage } from '../../storage/types';
import { silentLogger } from '../../log';
import type { ModuleContext } from '../../core/module-api';
import { HistoryBuffer } from './history';
import { MucService, type MucOptions } from './service';

const OPTIONS: MucOptions = {
  max_history: 100,
  default_history: 20,
  restrict_room_creation: false,
  max_rooms_per_user: 50,
  max_history_bytes: 65536,
  max_invites_per_message: 5,
};

function service(storage: Storage, options: Partial<MucOptions> = {}): MucService {
  const ctx = { options: { ...OPTIONS, ...options }, log: silentLogger(), server: { isAdmin: () => false } } as unknown as ModuleContext<MucOptions>;
  return new MucService(ctx, 'conference.localhost', 'secret', storage.map('muc_rooms'), storage.archive('muc_history'), storage.keyval('muc_room_history'));
}

describe('MUC service state', () => {
  it('saves persistent rooms and loads them again', async () => {
    const storage = createMemoryStorage();
    const make = () => service(storage);
    const first = make();
    const alice = Jid.parse('alice@localhost/home');
    const room = first.create(Jid.parse('keep@conference.localhost'), alice);
    room.config = { ...room.config, persistent: true, name: 'Kept' };
    room.setAffiliation('alice@localhost', 'owner');
    room.setAffiliation('eve@localhost', 'outcast');
    room.subject = 'Hello';
    await first.persist(room);
    const temp = first.create(Jid.parse('temp@conference.localhost'), alice);
    await first.persist(temp);
    const second = make();
    await second.load();
    assert.deepEqual([...second.rooms.keys()], ['keep@conference.localhost']);
    const loaded = second.rooms.get('keep@conference.localhost')!;
    assert.equal(loaded.config.name, 'Kept');
    assert.equal(loaded.affiliation('eve@localhost'), 'outcast');
    assert.equal(loaded.subject, 'Hello');
    assert.equal(loaded.locked, false);
    // XEP-0421: the occupant id depends on the room and the bare JID only.
    assert.equal(first.occupantId(room, 'alice@localhost'), second.occupantId(loaded, 'alice@localhost'));
    assert.notEqual(first.occupantId(room, 'alice@localhost'), first.occupantId(temp, 'alice@localhost'));
  });

  it('selects history by stanzas, characters and time', () => {
    const h = new HistoryBuffer();
    const t0 = Date.UTC(2024, 0, 1);
    for (let i = 0; i < 5; i++) h.add(xml('message', { from: 'r@c/n', type: 'groupchat' }, xml('body', null, `m${i}`)), 'r@c', { stanzas: 3, bytes: 1 << 20 }, t0 + i * 1000);
    const bodies = (es: ReturnType<HistoryBuffer['select']>) => es.map((e) => e.stanza.getChildText('body'));
    assert.deepEqual(bodies(h.select({})), ['m2', 'm3', 'm4'], 'the room keeps its history length');
    assert.deepEqual(bodies(h.select({ maxstanzas: 1 })), ['m4']);
    assert.deepEqual(bodies(h.select({ seconds: 1 }, t0 + 4000)), ['m3', 'm4']);
    assert.deepEqual(bodies(h.select({ since: t0 + 3500 })), ['m4']);
    const one = h.select({ maxstanzas: 1 })[0]!.chars;
    assert.deepEqual(bodies(h.select({ maxchars: one * 2 })), ['m3', 'm4']);
    assert.equal(h.select({ maxstanzas: 1 })[0]!.stanza.getChild('delay', 'urn:xmpp:delay')!.attrs.stamp, new Date(t0 + 4000).toISOString());
  });

  it('keeps persistent rooms\' history across a restart: empty rooms in storage, occupied ones saved at stop', async () => {
    const storage = createMemoryStorage();
    const first = service(storage);
    const alice = Jid.parse('alice@localhost/home');
    const room = first.create(Jid.parse('keep@conference.localhost'), alice);
    room.config = { ...room.config, persistent: true };
    await first.persist(room);
    for (const b of ['a', 'b', 'c']) room.history.add(xml('message', { from: 'keep@conference.localhost/A', type: 'groupchat' }, xml('body', null, b)), room.jidString, first.historyLimits(room));
    await first.saveAllHistory();
    assert.equal(room.history.size, 3, 'an occupied room keeps its history in memory as well');
    // Restarted with a shorter history: the stored history comes back on the first join, within today's bounds.
    const second = service(storage, { max_history_bytes: 65536 });
    await second.load();
    const loaded = second.rooms.get('keep@conference.localhost')!;
    assert.equal(loaded.history.size, 0, 'nothing in memory before someone enters');
    loaded.config = { ...loaded.config, historyLength: 2 };
    await second.loadHistory(loaded);
    assert.deepEqual(loaded.history.select({}).map((e) => e.stanza.getChildText('body')), ['b', 'c']);
    assert.equal(loaded.history.select({})[0]!.stanza.getChildren('delay', 'urn:xmpp:delay').length, 1, 'no second <delay/>');
  });

  it('bounds history by bytes, dropping the oldest, and keeps nothing larger than the bound', () => {
    const h = new HistoryBuffer();
    const msg = (body: string) => xml('message', { from: 'r@c/n', type: 'groupchat' }, xml('body', null, body));
    h.add(msg('m0'), 'r@c', { stanzas: 10, bytes: 1 << 20 });
    const one = h.bytes;
    h.add(msg('m1'), 'r@c', { stanzas: 10, bytes: one * 2 });
    h.add(msg('m2'), 'r@c', { stanzas: 10, bytes: one * 2 });
    assert.deepEqual(h.select({}).map((e) => e.stanza.getChildText('body')), ['m1', 'm2']);
    assert.ok(h.bytes <= one * 2);
    h.add(msg('x'.repeat(one * 3)), 'r@c', { stanzas: 10, bytes: one * 2 });
    assert.equal(h.size, 0);
    assert.equal(h.bytes, 0);
  });
});
