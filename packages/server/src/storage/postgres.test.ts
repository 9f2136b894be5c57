import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { TEST_POSTGRES_URL, TestSchemas, postgresSkipReason } from '../testing/postgres';
import { runStorageContract } from './contract';
import { SchemaTooNewError } from './migrations';
import { openPostgresStorage } from './postgres';
import { POSTGRES_MIGRATIONS, migratePostgres, type PostgresMigration } from './postgres-migrations';

const skip = await postgresSkipReason();
const schemas = new TestSchemas();
after(() => schemas.dropAll());

runStorageContract('postgres', () => schemas.open(), { skip });

describe('postgres storage', { skip }, () => {
  it('shares data between two storages on one database (two nodes), including exclusive sections', async () => {
    const schema = schemas.fresh();
    const [a, b] = await Promise.all([openPostgresStorage({ url: TEST_POSTGRES_URL, schema }), openPostgresStorage({ url: TEST_POSTGRES_URL, schema })]);
    try {
      await a.accounts.create('example.com', 'juliet', { 'SCRAM-SHA-1': {}, 'SCRAM-SHA-256': {} } as never);
      assert.ok(await b.accounts.get('example.com', 'juliet'));
      // Two processes incrementing one counter through exclusive(): the row lock makes them take turns.
      const kv = (s: typeof a) => s.keyval<number>('counter');
      const bump = (s: typeof a) =>
        s.exclusive('counter', 'juliet@example.com', async () => {
          const n = (await kv(s).get('juliet@example.com')) ?? 0;
          await new Promise((resolve) => setTimeout(resolve, 2));
          await kv(s).set('juliet@example.com', n + 1);
        });
      await Promise.all(Array.from({ length: 15 }, (_, i) => bump(i % 2 === 0 ? a : b)));
      assert.equal(await kv(a).get('juliet@example.com'), 15);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('rolls back the writes of an exclusive section that throws, and commits those of one that resolves', async () => {
    const storage = await schemas.open();
    try {
      const owner = 'juliet@example.com';
      await storage.keyval('v').set(owner, 1);
      await assert.rejects(
        storage.exclusive('roster', owner, async () => {
          await storage.keyval('v').set(owner, 2);
          await storage.map('roster').set(owner, 'romeo@example.com', { groups: [] });
          assert.equal(await storage.keyval('v').get(owner), 2, 'the section reads its own writes');
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.equal(await storage.keyval('v').get(owner), 1);
      assert.equal((await storage.map('roster').getAll(owner)).size, 0);
      await storage.exclusive('roster', owner, () => storage.keyval('v').set(owner, 3));
      assert.equal(await storage.keyval('v').get(owner), 3);
    } finally {
      await storage.close();
    }
  });

  it('keeps pooled writes to one key in the order issued, and reads after them', async () => {
    const storage = await schemas.open();
    try {
      const kv = storage.keyval<number>('k');
      const writes = Array.from({ length: 30 }, (_, i) => kv.set('juliet@example.com', i));
      assert.equal(await kv.get('juliet@example.com'), 29);
      await Promise.all(writes);
    } finally {
      await storage.close();
    }
  });

  it('migrates once, refuses a schema from a newer Parley, and names the database without its password', async () => {
    const schema = schemas.fresh();
    await (await openPostgresStorage({ url: TEST_POSTGRES_URL, schema })).close();
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, options: `-c search_path=${schema}` });
    await client.connect();
    try {
      assert.deepEqual(await migratePostgres(client), []);
      const runs: number[] = [];
      const extra: PostgresMigration = {
        version: POSTGRES_MIGRATIONS.length + 1,
        description: 'x',
        async up(c) {
          runs.push(1);
          await c.query('CREATE TABLE extra (x int)');
        },
      };
      assert.deepEqual(await migratePostgres(client, [...POSTGRES_MIGRATIONS, extra]), [POSTGRES_MIGRATIONS.length + 1]);
      assert.deepEqual(runs, [1]);
      const url = TEST_POSTGRES_URL.replace('postgres@', 'postgres:s3cret@');
      await assert.rejects(openPostgresStorage({ url, schema }), (err: unknown) => {
        assert.ok(err instanceof SchemaTooNewError);
        assert.match(err.message, /schema version 2/);
        assert.ok(!err.message.includes('s3cret'), 'no password in the message');
        return true;
      });
    } finally {
      await client.end();
    }
  });

  it('rolls a failing migration back completely', async () => {
    const schema = schemas.fresh();
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${schema}; SET search_path = ${schema}`);
      const failing: PostgresMigration[] = [
        POSTGRES_MIGRATIONS[0]!,
        {
          version: 2,
          description: 'breaks',
          async up(c) {
            await c.query('CREATE TABLE half (x int)');
            throw new Error('boom');
          },
        },
      ];
      await assert.rejects(migratePostgres(client, failing), /boom/);
      const { rows } = await client.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1", [schema]);
      assert.equal(rows[0].n, 0);
    } finally {
      await client.end();
    }
  });

  it('fails to open with a message naming the unreachable server', async () => {
    await assert.rejects(openPostgresStorage({ url: 'postgres://postgres@127.0.0.1:1/test' }), /cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/test/);
  });
});
