// `npm start` stopped with SIGTERM (Ctrl-C in a container, `docker stop`, a test harness) must stop the server:
// npm runs the script through `sh -c`, which would not pass the signal on to node, so the script execs node.
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isListening, randomPort } from '../../server/src/testing/process';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'parley-npm-'));
let serverPid: number | undefined;
after(() => {
  if (serverPid !== undefined && isAlive(serverPid)) process.kill(serverPid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('npm start stopped by SIGTERM leaves no process behind', async () => {
  const port = randomPort();
  const npm = spawn('npm', ['start', '--', '--data-dir', join(dir, 'data'), '--c2s-port', String(port), '--c2s-tls-port', '0', '--http-port', '0', '--https-port', '0', '--s2s-port', '0'], { cwd: ROOT });
  let log = '';
  npm.stdout.on('data', (d) => (log += d));
  npm.stderr.on('data', (d) => (log += d));
  try {
    for (let i = 0; i < 600 && !log.includes('Parley started'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(log, /Parley started/);
    serverPid = Number(/"pid":(\d+)/.exec(log)![1]);
    assert.ok(isAlive(serverPid));
    const exited = new Promise((r) => npm.once('exit', r));
    npm.kill('SIGTERM');
    await exited;
    for (let i = 0; i < 100 && isAlive(serverPid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(isAlive(serverPid), false, `the server (pid ${serverPid}) outlived npm`);
    assert.equal(await isListening(port), false);
  } finally {
    if (npm.exitCode === null) npm.kill('SIGKILL');
  }
});
