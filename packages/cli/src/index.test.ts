// The `parley` command as a user runs it: a real process, real files, real signals.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient, isRedisUp } from '../../server/src/testing/harness';

const BIN = fileURLToPath(new URL('../bin/parley.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'parley-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const REDIS_UP = await isRedisUp();

function parley(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', cwd: dir, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('parley CLI', () => {
  const data = join(dir, 'data');

  it('adds, lists, changes and removes users; passwords can come on standard input', () => {
    assert.equal(parley(['user', 'add', 'alice', '--password', 'pw1', '--data-dir', data]).code, 0);
    const piped = parley(['user', 'add', 'Bob@localhost', '--data-dir', data], 'pw2\n');
    assert.equal(piped.code, 0, piped.err);
    assert.match(piped.out, /created bob@localhost/);
    const dup = parley(['user', 'add', 'alice', '--password', 'x', '--data-dir', data]);
    assert.equal(dup.code, 2);
    assert.match(dup.err, /already exists/);
    assert.equal(parley(['user', 'list', '--data-dir', data]).out, 'alice@localhost\nbob@localhost\n');
    assert.equal(parley(['user', 'passwd', 'alice', '--password', 'pw3', '--data-dir', data]).code, 0);
    assert.equal(parley(['user', 'remove', 'bob', '--data-dir', data]).code, 0);
    assert.equal(parley(['user', 'list', '--data-dir', data]).out, 'alice@localhost\n');
    const missing = parley(['user', 'remove', 'nobody', '--data-dir', data]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /no user nobody@localhost/);
  });

  it('reports a bad configuration key with the key and the file', () => {
    writeFileSync(join(dir, 'bad.yml'), 'c2s:\n  prot: 5222\n');
    const r = parley(['check-config', '--config', 'bad.yml']);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown key 'c2s\.prot' in bad\.yml/);
    writeFileSync(join(dir, 'good.yml'), 'domain: example.org\n');
    const ok = parley(['check-config', '--config', 'good.yml']);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /domain example\.org/);
  });

  it('rejects a bad flag value with a clear message', () => {
    const r = parley(['start', '--c2s-port', 'abc', '--data-dir', data]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /expected a port number/);
  });

  it('starts, serves clients, and on SIGTERM closes their streams and exits cleanly', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn(process.execPath, [BIN, 'start', '--data-dir', data, '--c2s-port', String(port), '--c2s-tls-port', '0', '--http-port', '0', '--https-port', '0', '--s2s-port', '0', '--allow-plaintext-auth'], { cwd: dir });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    try {
      for (let i = 0; i < 100 && !log.includes('Parley started'); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(log, /Parley started/);
      const raw = await RawClient.connect(port);
      await raw.login('alice', 'pw3');
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      await raw.waitClosed();
      assert.match(raw.data, /<system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
      assert.match(raw.data, /<\/stream:stream>$/);
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('runs worker processes behind one port (--workers 2, Redis): clients on different workers talk; SIGTERM stops them all', { skip: !REDIS_UP && 'Redis is not running on 127.0.0.1:6379' }, async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    writeFileSync(join(dir, 'workers.yml'), `cluster:\n  backend: redis\n  redis_url: redis://127.0.0.1:6379\n  name: cli-test-${port}\n`);
    assert.equal(parley(['user', 'add', 'wendy', '--password', 'pw', '--data-dir', data]).code, 0);
    const args = ['start', '--config', 'workers.yml', '--data-dir', data, '--c2s-port', String(port), '--c2s-tls-port', '0', '--http-port', '0', '--https-port', '0', '--s2s-port', '0', '--allow-plaintext-auth', '--workers', '2'];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    const raws: RawClient[] = [];
    try {
      for (let i = 0; i < 150 && !/"workers":2.*Parley started/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(log, /"workers":2.*Parley started/, log);
      // Round robin: consecutive connections land on alternate workers, so some pairs cross processes.
      for (let i = 0; i < 4; i++) {
        const r = await RawClient.connect(port);
        await r.login('wendy', 'pw', `r${i}`);
        r.write('<presence/>');
        raws.push(r);
      }
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 4; i++) {
        const to = `wendy@localhost/r${(i + 1) % 4}`;
        raws[i]!.write(`<message to='${to}' type='chat'><body>from r${i}</body></message>`);
        await raws[(i + 1) % 4]!.waitFor(`from r${i}`);
      }
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      for (const r of raws) await r.waitClosed();
      assert.match(raws[0]!.data, /<system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
      assert.equal(await exited, 0);
    } finally {
      for (const r of raws) r.destroy();
      child.kill('SIGKILL');
    }
  });

  it('refuses more than one worker without a shared cluster backend, naming the key', () => {
    const r = parley(['start', '--workers', '2', '--data-dir', data]);
    assert.equal(r.code, 2);
    assert.match(r.err, /cluster\.workers: more than one worker needs cluster\.backend: redis/);
  });
});
