// `parley storage copy` as an operator runs it: a SQLite database filled by a real server (accounts, roster,
// vCard, private XML, PEP, offline messages, the message archive, a persistent room and its history) goes
// to PostgreSQL and back to a new SQLite file, and every record arrives unchanged.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openPostgresStorage, openSqliteStorage, type Storage, type StorageRecord } from '../../server/src/storage';
import { startTestServer } from '../../server/src/testing/harness';
import { TestSchemas, postgresSkipReason } from '../../server/src/testing/postgres';

const BIN = fileURLToPath(new URL('../bin/parley.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'parley-copy-'));
const schemas = new TestSchemas();
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await schemas.dropAll();
});

function parley(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: dir, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function recordsOf(storage: Storage): Promise<StorageRecord[]> {
  const out: StorageRecord[] = [];
  for await (const r of storage.records()) out.push(r);
  await storage.close();
  return out;
}

/** Fills a SQLite database the way a running server does. */
async function populate(path: string): Promise<void> {
  const ts = await startTestServer({ storage: { backend: 'sqlite', path } } as never);
  try {
    await ts.createUser('alice');
    await ts.createUser('bob');
    const alice = await ts.client('alice');
    await alice.iq(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'><group>Friends</group></item></query></iq>`);
    await alice.iq(`<iq type='set'><vCard xmlns='vcard-temp'><FN>Alice Ünïcode 😀</FN></vCard></iq>`);
    await alice.iq(`<iq type='set'><query xmlns='jabber:iq:private'><notes xmlns='http://example.org/notes'>remember</notes></query></iq>`);
    await alice.iq(
      `<iq type='set'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:bookmarks:1'><item id='garden@conference.localhost'><conference xmlns='urn:xmpp:bookmarks:1' name='Garden'/></item></publish></pubsub></iq>`,
    );
    // bob is offline: offline storage, and alice's message archive.
    for (let i = 0; i < 3; i++) await alice.send(`<message to='bob@localhost' type='chat' id='m${i}'><body>hello ${i}</body></message>`);
    await alice.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await alice.stop();
  } finally {
    await ts.stop();
  }
  // A persistent room with history, as the MUC service stores it.
  const storage = openSqliteStorage(path);
  await storage.map('muc_rooms').set('garden@conference.localhost', 'config', { persistent: true, name: 'Garden' });
  await storage.archive('muc_history').append('garden@conference.localhost', { when: 1, with: 'alice@localhost', payload: '<message type="groupchat"/>' });
  await storage.close();
}

describe('parley storage copy', { skip: await postgresSkipReason() }, () => {
  it('round-trips a populated SQLite database through PostgreSQL with identical content', async () => {
    const source = join(dir, 'source.sqlite');
    const back = join(dir, 'back.sqlite');
    await populate(source);
    const original = await recordsOf(openSqliteStorage(source));
    const shapes = new Set(original.map((r) => (r.shape === 'account' ? 'account' : `${r.shape} ${r.store}`)));
    for (const expected of ['account', 'map roster', 'keyval roster_version', 'keyval vcard', 'map private', 'map pep_nodes', 'map pep_items', 'archive offline', 'archive mam', 'map muc_rooms', 'archive muc_history']) {
      assert.ok(shapes.has(expected), `the populated database holds ${expected} (has ${[...shapes].join(', ')})`);
    }

    const url = await schemas.url();
    const there = parley(['storage', 'copy', '--from', `sqlite:${source}`, '--to', url]);
    assert.equal(there.code, 0, there.err);
    assert.match(there.out, /^accounts\s+2$/m);
    assert.match(there.out, /^archive offline\s+3$/m);
    assert.match(there.out, new RegExp(`^total\\s+${original.length}$`, 'm'));
    const schema = new URL(url).searchParams.get('options')!.split('=')[1]!;
    assert.deepEqual(await recordsOf(await openPostgresStorage({ url, schema })), original);

    // A second run refuses the non-empty target, and --force adds nothing twice.
    const again = parley(['storage', 'copy', '--from', `sqlite:${source}`, '--to', url]);
    assert.equal(again.code, 2);
    assert.match(again.err, /target storage is not empty.*--force/);
    assert.equal(parley(['storage', 'copy', '--from', `sqlite:${source}`, '--to', url, '--force']).code, 0);
    assert.deepEqual(await recordsOf(await openPostgresStorage({ url, schema })), original);

    const home = parley(['storage', 'copy', '--from', url, '--to', `sqlite:${back}`]);
    assert.equal(home.code, 0, home.err);
    assert.deepEqual(await recordsOf(openSqliteStorage(back)), original);
  });

  it('says what is wrong with a bad location or a missing source', () => {
    const bad = parley(['storage', 'copy', '--from', 'mysql://x', '--to', `sqlite:${join(dir, 'x.sqlite')}`]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /expected sqlite:PATH or a postgres:\/\//);
    const missing = parley(['storage', 'copy', '--from', `sqlite:${join(dir, 'none.sqlite')}`, '--to', `sqlite:${join(dir, 'y.sqlite')}`]);
    assert.match(missing.err, /no SQLite database at/);
  });
});
