// What a XEP-0198 acknowledgement promises (modules/xep-0198-sm/index.ts): once the client has read <a h='n'/>,
// its first n messages are in the sender's and the recipients' archives (XEP-0313) and, for a recipient with no
// session, in offline storage (XEP-0160) — even if the server is killed with SIGKILL the next moment. Archive
// writes commit on a worker thread after delivery, so the acknowledgement has to wait for them.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient } from '../../server/src/testing/harness';
import { isListening, randomPort } from '../../server/src/testing/process';
import { openSqliteStorage } from '../../server/src/storage/sqlite';
import Database from 'better-sqlite3';

const BIN = fileURLToPath(new URL('../bin/parley.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'parley-ack-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const data = join(dir, 'data');

function parley(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: dir, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
}

describe('XEP-0198 acknowledgement and SIGKILL', () => {
  it('keeps every acknowledged message in both archives and in offline storage', async () => {
    for (const user of ['alice', 'bob', 'carol']) parley(['user', 'add', user, '--password', 'pw', '--data-dir', data]);
    const port = randomPort();
    const child = spawn(
      process.execPath,
      [BIN, 'start', '--data-dir', data, '--c2s-port', String(port), '--c2s-tls-port', '0', '--http-port', '0', '--https-port', '0', '--s2s-port', '0', '--allow-plaintext-auth'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    const clients: RawClient[] = [];
    const toBob = 300;
    const toCarol = 50;
    try {
      for (let i = 0; i < 900 && !(await isListening(port)); i++) await new Promise((r) => setTimeout(r, 100));
      const bob = await RawClient.connect(port);
      clients.push(bob);
      await bob.login('bob', 'pw');
      bob.write('<presence/>');
      const alice = await RawClient.connect(port);
      clients.push(alice);
      await alice.login('alice', 'pw');
      alice.write(`<enable xmlns='urn:xmpp:sm:3'/>`);
      await alice.waitFor('<enabled');
      // carol has no session: hers go to offline storage, whose write each message waits for (XEP-0160).
      alice.write(Array.from({ length: toCarol }, (_, i) => `<message to='carol@localhost' type='chat' id='c${i}'><body>to carol ${i}</body></message>`).join('') + `<r xmlns='urn:xmpp:sm:3'/>`);
      await alice.waitFor(new RegExp(`<a xmlns=['"]urn:xmpp:sm:3['"] h=['"]${toCarol}['"]`), 60_000);
      alice.data = '';
      // Another connection holds SQLite's write lock (as a CLI command may): archive writes cannot commit for now.
      const locker = new Database(join(data, 'parley.sqlite'));
      locker.exec('BEGIN IMMEDIATE');
      try {
        // One write, then <r/>: the answer must cover every message of both batches.
        alice.write(Array.from({ length: toBob }, (_, i) => `<message to='bob@localhost' type='chat' id='b${i}'><body>to bob ${i}</body></message>`).join('') + `<r xmlns='urn:xmpp:sm:3'/>`);
        // Delivery does not wait for the archive...
        await bob.waitFor(`to bob ${toBob - 1}<`, 60_000);
        await new Promise((r) => setTimeout(r, 500));
        // ...but the acknowledgement does.
        assert.doesNotMatch(alice.data, /<a xmlns=/, 'acknowledged before the archive rows were committed');
      } finally {
        locker.exec('ROLLBACK');
        locker.close();
      }
      await alice.waitFor(new RegExp(`<a xmlns=['"]urn:xmpp:sm:3['"] h=['"]${toBob + toCarol}['"]`), 60_000);
    } finally {
      child.kill('SIGKILL');
      for (const c of clients) c.destroy();
    }
    assert.equal(await exited, 'SIGKILL', log);

    const storage = openSqliteStorage(join(data, 'parley.sqlite'));
    try {
      const mam = storage.archive('mam');
      assert.equal(await mam.count('alice@localhost'), toBob + toCarol);
      assert.equal(await mam.count('bob@localhost'), toBob);
      assert.equal(await mam.count('carol@localhost'), toCarol);
      assert.equal(await storage.archive('offline').count('carol@localhost'), toCarol);
    } finally {
      await storage.close();
    }
  });
});
