// `parley admin|user|status` against a running server, as an operator uses them: one `parley start` child process,
// commands run as separate processes that reach it over the control socket in its data directory.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient } from '../../server/src/testing/harness';

const BIN = fileURLToPath(new URL('../bin/parley.js', import.meta.url));
const ROOT_PACKAGE = fileURLToPath(new URL('../../server/package.json', import.meta.url));

function parley(cwd: string, args: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 }, (error, out, err) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out, err });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

describe('parley CLI on a running server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-ctl-'));
  const data = join(dir, 'data');
  const port = 20000 + Math.floor(Math.random() * 20000);
  let server: ChildProcess;
  let log = '';
  const run = (...args: string[]) => parley(dir, [...args, '--data-dir', data]);

  before(async () => {
    server = spawn(process.execPath, [BIN, 'start', '--data-dir', data, '--c2s-port', String(port), '--c2s-tls-port', '0', '--http-port', '0', '--https-port', '0', '--s2s-port', '0', '--allow-plaintext-auth'], { cwd: dir });
    server.stdout!.on('data', (d) => (log += d));
    server.stderr!.on('data', (d) => (log += d));
    for (let i = 0; i < 150 && !log.includes('Parley started'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(log, /Parley started/);
  });
  after(async () => {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the version', async () => {
    const r = await parley(dir, ['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.out.trim(), (await import(ROOT_PACKAGE, { with: { type: 'json' } })).default.version);
  });

  it('keeps the control socket owner-only', () => {
    assert.equal(statSync(join(data, 'parley.sock')).mode & 0o777, 0o600);
  });

  it('adds a user on the running server, who can log in at once; a duplicate fails with status 2', async () => {
    const add = await run('user', 'add', 'alice', '--password', 'pw');
    assert.equal(add.code, 0, add.err);
    assert.match(add.out, /created alice@localhost/);
    const dup = await run('user', 'add', 'alice', '--password', 'pw');
    assert.equal(dup.code, 2);
    assert.match(dup.err, /already exists/);
    const raw = await RawClient.connect(port);
    await raw.login('alice', 'pw');
    raw.destroy();
  });

  it('counts online users, announces to them, ends their sessions, and reports status', async () => {
    const add = await run('user', 'add', 'bob', '--password', 'pw');
    assert.equal(add.code, 0, add.err);
    const bob = await RawClient.connect(port);
    await bob.login('bob', 'pw', 'desk');
    bob.write('<presence/>');
    await new Promise((r) => setTimeout(r, 200));

    // Independent commands in parallel: each is a process start (slow on a loaded machine).
    const [count, status] = await Promise.all([run('admin', 'get-online-users-num'), run('status')]);
    assert.equal(count.code, 0, count.err);
    assert.match(count.out, /^1 online users$/m);

    assert.equal(status.code, 0, status.err);
    assert.match(status.out, /^version\s+Parley \d+\.\d+\.\d+/m);
    assert.match(status.out, /^sessions c2s \(unencrypted\)\s+1$/m);
    assert.match(status.out, /^rooms on conference\.localhost\s+0$/m);
    assert.match(status.out, /^event-loop delay p50\/p99\/max\s+[\d.]+\/[\d.]+\/[\d.]+ ms$/m);

    const announce = await run('admin', 'announce', 'announcement=Maintenance at noon');
    assert.equal(announce.code, 0, announce.err);
    await bob.waitFor(/<message [^>]*type='headline'[^>]*><body>Maintenance at noon<\/body><\/message>/);

    const end = await run('admin', 'end-user-session', 'accountjids=bob@localhost');
    assert.equal(end.code, 0, end.err);
    assert.match(end.out, /ended 1 session/);
    await bob.waitClosed();
    assert.match(bob.data, /<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
  });

  it('fails with status 2 and a clear message on a bad command or argument', async () => {
    const [unknown, missing] = await Promise.all([run('admin', 'no-such-command'), run('admin', 'end-user-session')]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /no admin command no-such-command/);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /end-user-session needs accountjids=/);
  });
});

describe('parley CLI with no server running', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-ctl-'));
  const data = join(dir, 'data');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('status and session commands exit 3 saying the server is not running; accounts use the storage', async () => {
    const [status, online] = await Promise.all([
      parley(dir, ['status', '--data-dir', data]),
      parley(dir, ['admin', 'get-online-users-num', '--data-dir', data]),
    ]);
    assert.equal(status.code, 3);
    assert.match(status.err, /Parley is not running \(no server answers on .*parley\.sock\)/);
    assert.equal(online.code, 3);
    assert.match(online.err, /get-online-users-num needs the running server/);
    const add = await parley(dir, ['user', 'add', 'carol', '--data-dir', data], 'pw\n');
    assert.equal(add.code, 0, add.err);
    assert.equal((await parley(dir, ['user', 'list', '--data-dir', data])).out, 'carol@localhost\n');
  });
});
