// The data directory, the SQLite database with its WAL and shared-memory files, and the development TLS key hold
// secrets: a running server creates them owner-only, and tightens those an older version left world-readable.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { loadConfig } from './config';
import { startServer } from './main';
import { RawClient } from './testing/harness';

const modeOf = (path: string): number => statSync(path).mode & 0o777;
const octal = (mode: number): string => `0${mode.toString(8)}`;

/** A logger keeping what it writes, to check that tightened permissions are reported. */
function capturingLogger() {
  const lines: { msg: string; path?: string; was?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), lines };
}

/** Starts a server on random loopback ports with SQLite storage in `dataDir`, makes it write, and stops it. */
async function runServerOnce(dataDir: string, check: (dbPath: string) => void | Promise<void>) {
  const config = loadConfig({
    overrides: {
      domain: 'localhost',
      data_dir: dataDir,
      c2s: { port: 0, tls_port: 0, bind: '127.0.0.1', allow_plaintext_auth: true },
      http: { port: 0, tls_port: 0, bind: '127.0.0.1' },
      s2s: { port: 0, bind: '127.0.0.1' },
    },
  });
  const { log, lines } = capturingLogger();
  const running = await startServer(config, log);
  try {
    // A write and a login through the database: the WAL and shared-memory files exist from here on.
    if (!(await running.server.accounts.exists('alice'))) await running.server.accounts.create('alice', 'secret');
    const raw = await RawClient.connect(running.ports.c2s);
    try {
      await raw.login('alice');
    } finally {
      raw.destroy();
    }
    await check(config.storage.path);
  } finally {
    await running.stop();
  }
  return lines;
}

describe('secret files and directories are private to the server user', { skip: process.platform === 'win32' && 'POSIX modes only' }, () => {
  let previousUmask: number;
  // The common default: without explicit modes, files come out 0644 and directories 0755.
  before(() => (previousUmask = process.umask(0o022)));
  after(() => process.umask(previousUmask));

  it('a fresh install creates the data directory 0700 and the database, WAL, SHM and TLS key 0600', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'parley-perms-'));
    try {
      const dataDir = join(parent, 'data');
      const lines = await runServerOnce(dataDir, (dbPath) => {
        assert.equal(octal(modeOf(dataDir)), '0700', 'data directory');
        for (const path of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) {
          assert.ok(existsSync(path), `${path} exists while the server runs`);
          assert.equal(octal(modeOf(path)), '0600', path);
        }
        assert.equal(octal(modeOf(join(dataDir, 'certs'))), '0700', 'certificate directory');
        assert.equal(octal(modeOf(join(dataDir, 'certs', 'localhost.key'))), '0600', 'TLS private key');
      });
      assert.deepEqual(lines.filter((l) => l.msg.includes('tightened')), [], 'nothing to tighten on a fresh install');
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('an existing install with world-readable files is tightened at start, and the log says so', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'parley-perms-'));
    try {
      const dataDir = join(parent, 'data');
      // First start creates the certificate; then everything is loosened as an older version left it.
      await runServerOnce(dataDir, () => {});
      const dbPath = join(dataDir, 'parley.sqlite');
      const keyPath = join(dataDir, 'certs', 'localhost.key');
      const db = new Database(dbPath);
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE IF NOT EXISTS leftover (x)');
      writeFileSync(`${dbPath}-wal`, '', { flag: 'a' });
      db.close();
      chmodSync(dataDir, 0o755);
      chmodSync(join(dataDir, 'certs'), 0o755);
      chmodSync(dbPath, 0o644);
      chmodSync(keyPath, 0o644);

      const lines = await runServerOnce(dataDir, (path) => {
        assert.equal(octal(modeOf(dataDir)), '0700', 'data directory');
        for (const p of [path, `${path}-wal`, `${path}-shm`]) assert.equal(octal(modeOf(p)), '0600', p);
        assert.equal(octal(modeOf(join(dataDir, 'certs'))), '0700', 'certificate directory');
        assert.equal(octal(modeOf(keyPath)), '0600', 'TLS private key');
      });
      const tightened = lines.filter((l) => l.msg.includes('permissions tightened'));
      for (const path of [dataDir, dbPath, join(dataDir, 'certs'), keyPath]) {
        const line = tightened.find((l) => l.path === path);
        assert.ok(line, `a warning names ${path}; got ${JSON.stringify(lines)}`);
        assert.ok(line.was === '0755' || line.was === '0644', `${path} was ${line.was}`);
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
