import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { runStorageContract } from './contract';
import { MIGRATIONS, SchemaTooNewError, migrate, type Migration } from './migrations';
import { openSqliteStorage } from './sqlite';

const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = (): string => join(dir, `db-${++files}.sqlite`);

runStorageContract('sqlite :memory:', () => openSqliteStorage(':memory:'));
runStorageContract('sqlite file', () => openSqliteStorage(freshPath()));

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const sqliteModule = pathToFileURL(fileURLToPath(new URL('./sqlite.ts', import.meta.url))).href;

/** Runs `code` (an ES module body) in a fresh Node with tsx; resolves with the child once it printed `marker`. */
function spawnWriter(code: string, env: Record<string, string>, marker: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(marker)) resolve();
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`writer exited (${code}) before '${marker}': ${err}`)));
  });
  return { child, ready, exited };
}

describe('sqlite durability', () => {
  it('keeps data across close and reopen', async () => {
    const path = freshPath();
    const first = openSqliteStorage(path);
    await first.keyval('k').set('juliet@example.com', { v: 1 });
    await first.map('m').set('juliet@example.com', 'romeo@example.com', { name: 'Romeo' });
    const id = await first.archive('mam').append('juliet@example.com', { when: 1, payload: '<x/>' });
    await first.close();

    const second = openSqliteStorage(path);
    try {
      assert.deepEqual(await second.keyval('k').get('juliet@example.com'), { v: 1 });
      assert.deepEqual(await second.map('m').getAll('juliet@example.com'), new Map([['romeo@example.com', { name: 'Romeo' }]]));
      assert.deepEqual((await second.archive('mam').query('juliet@example.com')).items, [{ id, when: 1, payload: '<x/>' }]);
      // Append order continues after the rows written by the earlier process.
      await second.archive('mam').append('juliet@example.com', { id: 'later', when: 0, payload: '' });
      assert.deepEqual((await second.archive('mam').query('juliet@example.com', { reverse: true, limit: 1 })).items[0]?.id, 'later');
    } finally {
      await second.close();
    }
  });

  it('keeps every resolved write of a process killed with SIGKILL', async () => {
    const path = freshPath();
    const parent = openSqliteStorage(path);
    await parent.keyval('k').set('parent', 'before the crash');
    await parent.close();

    const code = `
      const { openSqliteStorage } = await import(process.env.SQLITE_MODULE);
      const storage = openSqliteStorage(process.env.PARLEY_DB);
      await storage.keyval('k').set('child', { n: 1 });
      await storage.map('m').set('juliet@example.com', 'romeo@example.com', true);
      await storage.accounts.create('example.com', 'juliet', { 'SCRAM-SHA-1': {}, 'SCRAM-SHA-256': {} });
      for (let i = 0; i < 50; i++) await storage.archive('mam').append('juliet@example.com', { id: 'c' + i, when: i, payload: 'p' + i });
      process.stdout.write('written\\n');
      setInterval(() => {}, 60_000);
    `;
    const { child, ready, exited } = spawnWriter(code, { SQLITE_MODULE: sqliteModule, PARLEY_DB: path }, 'written');
    try {
      await ready;
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(await exited, 'SIGKILL');
    // The commits live only in the write-ahead log the killed process left behind; reopening must recover them.
    assert.ok(existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0, 'the killed writer left its WAL');

    const reopened = openSqliteStorage(path);
    try {
      assert.equal(await reopened.keyval('k').get('parent'), 'before the crash');
      assert.deepEqual(await reopened.keyval('k').get('child'), { n: 1 });
      assert.equal(await reopened.map('m').get('juliet@example.com', 'romeo@example.com'), true);
      assert.ok(await reopened.accounts.get('example.com', 'juliet'));
      const { items, complete } = await reopened.archive('mam').query('juliet@example.com');
      assert.equal(complete, true);
      assert.deepEqual(items.map((i) => i.id), Array.from({ length: 50 }, (_, i) => `c${i}`));
    } finally {
      await reopened.close();
    }
  });

  it('lets two connections to one file see each other\'s writes', async () => {
    const path = freshPath();
    const server = openSqliteStorage(path);
    const cli = openSqliteStorage(path);
    try {
      await cli.accounts.create('example.com', 'romeo', { 'SCRAM-SHA-1': {}, 'SCRAM-SHA-256': {} } as never);
      assert.ok(await server.accounts.get('example.com', 'romeo'));
      await server.archive('mam').append('romeo@example.com', { id: 'a', when: 1, payload: '' });
      assert.equal(await cli.archive('mam').count('romeo@example.com'), 1);
    } finally {
      await cli.close();
      await server.close();
    }
  });

  it('uses WAL and creates a missing parent directory', async () => {
    const path = join(dir, 'nested', 'deeper', 'parley.sqlite');
    await openSqliteStorage(path).close();
    const db = new Database(path);
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  });
});

describe('sqlite migrations', () => {
  const counting = (runs: number[]): Migration[] =>
    [1, 2, 3].map((version) => ({
      version,
      description: `step ${version}`,
      up(db) {
        runs.push(version);
        db.exec(`CREATE TABLE t${version} (x)`);
      },
    }));

  it('brings a new database to the latest version', async () => {
    const path = freshPath();
    await openSqliteStorage(path).close();
    const db = new Database(path);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
      assert.deepEqual(migrate(db), [], 'nothing left to apply on reopen');
    } finally {
      db.close();
    }
  });

  it('runs each migration once, and only the new ones later', () => {
    const db = new Database(':memory:');
    const runs: number[] = [];
    const all = counting(runs);
    assert.deepEqual(migrate(db, all.slice(0, 2)), [1, 2]);
    assert.deepEqual(migrate(db, all.slice(0, 2)), []);
    assert.deepEqual(migrate(db, all), [3]);
    assert.deepEqual(migrate(db, all), []);
    assert.deepEqual(runs, [1, 2, 3]);
    assert.equal(db.pragma('user_version', { simple: true }), 3);
    db.close();
  });

  it('rolls a failing migration back completely', () => {
    const db = new Database(':memory:');
    const failing: Migration[] = [
      ...counting([]).slice(0, 1),
      {
        version: 2,
        description: 'breaks',
        up(d) {
          d.exec('CREATE TABLE half (x)');
          throw new Error('boom');
        },
      },
    ];
    assert.throws(() => migrate(db, failing), /boom/);
    assert.equal(db.pragma('user_version', { simple: true }), 0);
    assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name IN ('t1', 'half')").pluck().get(), 0);
    db.close();
  });

  it('refuses a database written by a newer version, without touching it', async () => {
    const path = freshPath();
    await openSqliteStorage(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    raw.close();

    assert.throws(
      () => openSqliteStorage(path),
      (err: unknown) => {
        assert.ok(err instanceof SchemaTooNewError);
        assert.match(err.message, new RegExp(`schema version ${MIGRATIONS.length + 1}`));
        assert.match(err.message, new RegExp(`up to ${MIGRATIONS.length}`));
        assert.ok(err.message.includes(path), 'names the file');
        return true;
      },
    );
    const after = new Database(path);
    assert.equal(after.pragma('user_version', { simple: true }), MIGRATIONS.length + 1);
    after.close();
  });

  it('refuses a migration list that is not numbered 1, 2, 3 ...', () => {
    const db = new Database(':memory:');
    const [one, , three] = counting([]);
    assert.throws(() => migrate(db, [one!, three!]), /versions must be 1, 2, 3/);
    db.close();
  });
});
