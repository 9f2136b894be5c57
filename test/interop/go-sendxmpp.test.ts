// Interop with a one-shot sender from the shell: go-sendxmpp (Debian's `go-sendxmpp`) logs in as alice, sends one
// message read from stdin, and quits; bob, logged in with xmpp.js, must receive it. Over STARTTLS (TLS required by
// the server) and over direct TLS (XEP-0368), with the self-signed dev certificate accepted by `-n`.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer, type TestClient } from '../../packages/server/src/testing/harness';

const BIN = 'go-sendxmpp';
const available = spawnSync('sh', ['-c', `command -v ${BIN}`], { stdio: 'ignore' }).status === 0;

interface Result {
  code: number | null;
  out: string;
}

describe('interop: go-sendxmpp', { skip: available ? false : 'go-sendxmpp is not installed (apt-get install go-sendxmpp)', timeout: 90_000 }, () => {
  let ts: TestServer;
  let bob: TestClient;
  let home: string;

  before(async () => {
    ts = await startTestServer({ c2s: { allow_plaintext_auth: false } } as never);
    await ts.createUser('alice');
    await ts.createUser('bob');
    bob = await ts.client('bob');
    // go-sendxmpp looks for ~/.config/go-sendxmpp/sendxmpprc; give it an empty HOME of its own.
    home = mkdtempSync(join(tmpdir(), 'parley-sendxmpp-'));
  });
  after(async () => {
    await ts?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  function sendxmpp(args: string[], body: string): Promise<Result> {
    const child = spawn(BIN, ['--timeout', '10', ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.stdin.end(body + '\n');
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), 20_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
  }

  const bodyIs = (text: string) => (el: { name: string; attrs: Record<string, string>; toString(): string }) =>
    el.name === 'message' && el.toString().includes(`<body>${text}</body>`);

  it('sends a message over STARTTLS that a logged-in xmpp.js client receives', async () => {
    const text = 'hello bob, from go-sendxmpp over STARTTLS';
    const r = await sendxmpp(['-n', '-j', `127.0.0.1:${ts.port}`, '-u', `alice@${ts.domain}`, '-p', 'secret', `bob@${ts.domain}`], text);
    assert.equal(r.code, 0, r.out);
    const msg = await bob.waitFor(bodyIs(text));
    assert.match(msg.attrs.from, /^alice@localhost\/go-sendxmpp/);
    assert.equal(msg.attrs.type, 'chat');
  });

  it('sends a message over direct TLS (XEP-0368, -t)', async () => {
    const text = 'hello bob, from go-sendxmpp over direct TLS';
    const r = await sendxmpp(['-t', '-n', '-j', `127.0.0.1:${ts.tlsPort}`, '-u', `alice@${ts.domain}`, '-p', 'secret', `bob@${ts.domain}`], text);
    assert.equal(r.code, 0, r.out);
    const msg = await bob.waitFor(bodyIs(text));
    assert.match(msg.attrs.from, /^alice@localhost\//);
  });

  it('refuses the self-signed certificate without -n, and nothing is delivered', async () => {
    const text = 'must not arrive: certificate not trusted';
    const r = await sendxmpp(['-j', `127.0.0.1:${ts.port}`, '-u', `alice@${ts.domain}`, '-p', 'secret', `bob@${ts.domain}`], text);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /certificate/i);
    await assert.rejects(bob.waitFor(bodyIs(text), 1000));
  });

  it('fails with not-authorized on a wrong password, and nothing is delivered', async () => {
    const text = 'must not arrive: wrong password';
    const r = await sendxmpp(['-n', '-j', `127.0.0.1:${ts.port}`, '-u', `alice@${ts.domain}`, '-p', 'wrong', `bob@${ts.domain}`], text);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /not-authorized/);
    await assert.rejects(bob.waitFor(bodyIs(text), 1000));
  });
});
