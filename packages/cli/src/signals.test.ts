// SIGHUP as `systemctl reload` sends it: the configuration is re-read and applied without dropping sessions.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isListening, randomPort } from '../../server/src/testing/process';
import { RawClient } from '../../server/src/testing/harness';

const BIN = fileURLToPath(new URL('../bin/parley.js', import.meta.url));

/** Collects a child's output; `until` waits for a pattern in it. */
function watch(child: ChildProcess) {
  const out = { text: '' };
  child.stdout!.on('data', (d) => (out.text += d));
  child.stderr!.on('data', (d) => (out.text += d));
  return {
    get text() {
      return out.text;
    },
    async until(pattern: RegExp, timeoutMs = 30_000): Promise<void> {
      for (const end = Date.now() + timeoutMs; !pattern.test(out.text); ) {
        if (Date.now() > end) throw new Error(`timeout waiting for ${pattern}; output:\n${out.text}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}


describe('signals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-sig-'));
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGHUP changes the log level while a client stays connected', async () => {
    const port = randomPort();
    const config = join(dir, 'parley.yml');
    const data = join(dir, 'hup-data');
    const yml = (level: string) => `data_dir: ${data}\nlog:\n  level: ${level}\nc2s:\n  port: ${port}\n  tls_port: 0\n  allow_plaintext_auth: true\nhttp:\n  port: 0\n  tls_port: 0\ns2s:\n  port: 0\n`;
    writeFileSync(config, yml('warn'));
    const child = spawn(process.execPath, [BIN, 'start', '--config', config], { cwd: dir });
    children.push(child);
    const log = watch(child);
    for (let i = 0; i < 300 && !(await isListening(port)); i++) await new Promise((r) => setTimeout(r, 100));
    const add = spawn(process.execPath, [BIN, 'user', 'add', 'alice', '--password', 'pw', '--config', config], { cwd: dir });
    assert.equal(await new Promise((r) => add.once('exit', r)), 0);

    const alice = await RawClient.connect(port);
    await alice.login('alice', 'pw');
    assert.doesNotMatch(log.text, /connection accepted/, 'nothing at info while the level is warn');

    writeFileSync(config, yml('info'));
    child.kill('SIGHUP');
    await log.until(/configuration reloaded/);
    const bob = await RawClient.connect(port);
    await log.until(/"msg":"connection accepted from 127\.0\.0\.1 \(c2s\)"/);
    bob.destroy();

    // The session from before the reload is still there and served.
    alice.write(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await alice.waitFor(/<iq [^>]*id='p1'[^>]*type='result'|<iq [^>]*type='result'[^>]*id='p1'/);
    assert.equal(alice.closed, false);

    // A broken file is refused and the server keeps running with what it had.
    writeFileSync(config, yml('loud'));
    child.kill('SIGHUP');
    await log.until(/configuration not reloaded, the running one stays: .*log\.level/);
    alice.write(`<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await alice.waitFor(/id='p2'/);
    alice.destroy();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
