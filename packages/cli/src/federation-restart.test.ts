// Federation survives a peer that dies: b.test runs as its own `parley start` process, is killed with SIGKILL (no
// closing of streams, no goodbye) and started again; a.test notices the dead stream and builds a new one for the
// next message. Also the command-line flags of issue #10: --bind and --s2s-port.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient, startTestServer, type TestServer } from '../../server/src/testing/harness';
import { freePort } from '../../server/src/testing/s2s';
import { isListening } from '../../server/src/testing/process';

const BIN = fileURLToPath(new URL('../bin/parley.js', import.meta.url));

async function untilListening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await isListening(port)) return;
    if (child.exitCode !== null) throw new Error(`parley exited with ${child.exitCode}:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`parley did not listen on ${port}:\n${output()}`);
}

describe('federation after the peer is killed and restarted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-s2s-restart-'));
  const children: ChildProcess[] = [];
  let a: TestServer | undefined;
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await a?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers the next message over a new stream', async () => {
    const [portA, portB, c2sB] = [await freePort(), await freePort(), await freePort()];
    a = await startTestServer({ domain: 'a.test', s2s: { port: portA, static_routes: { 'b.test': `127.0.0.1:${portB}` } } } as never);
    await a.createUser('alice');
    const alice = await a.client('alice');

    const config = join(dir, 'b.yml');
    writeFileSync(config, `domain: b.test\ndata_dir: ${join(dir, 'b-data')}\nlog:\n  level: warn\ncontrol:\n  enabled: false\nc2s:\n  port: ${c2sB}\n  tls_port: 0\n  allow_plaintext_auth: true\nhttp:\n  port: 0\n  tls_port: 0\ns2s:\n  static_routes:\n    a.test: 127.0.0.1:${portA}\n`);
    const add = spawnSync(process.execPath, [BIN, 'user', 'add', 'bob', '--password', 'pw', '--config', config], { cwd: dir, encoding: 'utf8' });
    assert.equal(add.status, 0, add.stderr);
    const startB = () => {
      const child = spawn(process.execPath, [BIN, 'start', '--config', config, '--bind', '127.0.0.1', '--s2s-port', String(portB)], { cwd: dir });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      children.push(child);
      return { child, output: () => out };
    };

    let b = startB();
    await untilListening(portB, b.child, b.output);
    let bob = await RawClient.connect(c2sB);
    await bob.login('bob', 'pw', 'raw', 'b.test');
    await alice.send(`<message to='bob@b.test/raw' type='chat'><body>before the crash</body></message>`);
    await bob.waitFor('before the crash', 15_000);

    b.child.kill('SIGKILL');
    await new Promise((r) => b.child.once('exit', r));
    bob.destroy();

    b = startB();
    await untilListening(portB, b.child, b.output);
    bob = await RawClient.connect(c2sB);
    await bob.login('bob', 'pw', 'raw', 'b.test');
    await alice.send(`<message to='bob@b.test/raw' type='chat'><body>after the restart</body></message>`);
    await bob.waitFor('after the restart', 15_000);
    bob.destroy();
  });
});
