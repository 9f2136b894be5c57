// Interop with a real other client library: slixmpp (Debian's python3-slixmpp), over STARTTLS with SCRAM: two users
// chatting, and its XEP-0198 plugin resuming a session after the connection is lost.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../../packages/server/src/testing/harness';

const PYTHON = '/usr/bin/python3';
const available = spawnSync(PYTHON, ['-c', 'import slixmpp'], { stdio: 'ignore' }).status === 0;

describe('interop: slixmpp', { skip: available ? false : 'python3-slixmpp is not installed (apt-get install python3-slixmpp)' }, () => {
  let ts: TestServer;
  before(async () => {
    // TLS required, as in production: slixmpp negotiates STARTTLS and SCRAM.
    ts = await startTestServer({ c2s: { allow_plaintext_auth: false } } as never);
    await ts.createUser('alice');
    await ts.createUser('bob');
  });
  after(() => ts.stop());

  /** Runs one of the scenario scripts beside this file; it prints PASS and exits 0 when it saw what it expects. */
  async function runScenario(name: string): Promise<void> {
    const script = fileURLToPath(new URL(`./${name}`, import.meta.url));
    const child = spawn(PYTHON, [script, '127.0.0.1', String(ts.port), ts.domain]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.equal(code, 0, out);
    assert.match(out, /PASS/);
  }

  it('two users subscribe, see presence, chat, and get offline messages', () => runScenario('slixmpp_two_users.py'));

  it('resumes a session after the connection is lost, with what was sent meanwhile (XEP-0198)', () => runScenario('slixmpp_sm.py'));
});
