// The real PostgreSQL the tests use (127.0.0.1:5432, database `test`, trust auth; `.ci/run` starts it when
// down). Each test gets a schema of its own, named after the process, so test files running in parallel never
// see each other's rows, and every schema made here is dropped when the file's tests end.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgresStorage } from '../storage/postgres';
import type { Storage } from '../storage/types';

export const TEST_POSTGRES_URL = process.env.PARLEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Undefined when PostgreSQL answers; otherwise the reason, for `{ skip }` (a suite is skipped loudly, never silently passed). */
export async function postgresSkipReason(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return `PostgreSQL is not reachable at ${TEST_POSTGRES_URL} (${(err as Error).message}); start it (.ci/run does) to run these tests`;
  } finally {
    await client.end().catch(() => {});
  }
}

export class TestSchemas {
  private readonly made: string[] = [];

  /** A new, not yet existing schema name; openPostgresStorage creates it. */
  fresh(): string {
    const name = `parley_test_${process.pid}_${this.made.length + 1}_${randomBytes(3).toString('hex')}`;
    this.made.push(name);
    return name;
  }

  /** A storage in a fresh schema of the test database. */
  open(options: { poolSize?: number } = {}): Promise<Storage> {
    return openPostgresStorage({ url: TEST_POSTGRES_URL, schema: this.fresh(), ...options });
  }

  /**
   * A URL for a fresh schema, for servers configured with `storage.url` (several nodes share it): the schema
   * is created here, and the URL's libpq `options` parameter sets every connection's search_path to it.
   */
  async url(): Promise<string> {
    const name = this.fresh();
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${name}`);
    } finally {
      await client.end();
    }
    const url = new URL(TEST_POSTGRES_URL);
    url.searchParams.set('options', `-c search_path=${name}`);
    return url.toString();
  }

  async dropAll(): Promise<void> {
    if (this.made.length === 0) return;
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await client.connect();
    try {
      for (const name of this.made.splice(0)) await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    } finally {
      await client.end();
    }
  }
}
