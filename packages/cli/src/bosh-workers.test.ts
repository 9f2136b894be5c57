// BOSH (XEP-0124) behind `parley start --workers 2`: node:cluster hands each new connection to the next worker, so
// the requests of one session (each on its own connection here) reach both workers; all of them must be served by
// the worker holding the session (net/bosh.ts forwards them to it over its local socket).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient, isRedisUp } from '../../server/src/testing/harness';
import { RawBoshClient } from '../../server/src/testing/bosh-client';

const BIN = fileURLToPath(new URL('../bin/parley.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'parley-bosh-w-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const REDIS_UP = await isRedisUp();

describe('BOSH with worker processes', () => {
  it('serves every request of a session on the worker holding it, whichever worker takes the connection', { skip: !REDIS_UP && 'Redis is not running on 127.0.0.1:6379' }, async () => {
    const data = join(dir, 'data');
    const port = 20000 + Math.floor(Math.random() * 20000);
    const httpPort = port + 1;
    writeFileSync(join(dir, 'workers.yml'), `cluster:\n  backend: redis\n  redis_url: redis://127.0.0.1:6379\n  name: bosh-test-${port}\n`);
    for (const u of ['wendy', 'xavier']) {
      const r = spawnSync(process.execPath, [BIN, 'user', 'add', u, '--password', 'pw', '--data-dir', data], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    const args = ['start', '--config', 'workers.yml', '--data-dir', data, '--c2s-port', String(port), '--c2s-tls-port', '0', '--http-port', String(httpPort), '--https-port', '0', '--s2s-port', '0', '--allow-plaintext-auth', '--workers', '2'];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    let tcp: RawClient | undefined;
    try {
      for (let i = 0; i < 150 && !/"workers":2.*Parley started/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(log, /"workers":2.*Parley started/, log);
      const web = new RawBoshClient(`http://127.0.0.1:${httpPort}/http-bind`);
      // Creation, auth, restart, bind: four requests on four connections, alternating between the workers.
      const jid = await web.login('wendy', 'web', 'pw');
      assert.match(web.sid, /^[12]\./, 'the sid names the worker holding the session');
      tcp = await RawClient.connect(port);
      await tcp.login('xavier', 'pw', 'tcp');
      for (let i = 0; i < 4; i++) {
        const held = web.send();
        tcp.write(`<message to='${jid}' type='chat'><body>to bosh ${i}</body></message>`);
        const got = await held;
        assert.match(got.text, new RegExp(`to bosh ${i}`), got.text);
        await web.send(`<message xmlns='jabber:client' to='xavier@localhost/tcp' type='chat'><body>to tcp ${i}</body></message>`, { wait: '1' });
        await tcp.waitFor(`to tcp ${i}`);
      }
      const bye = await web.send('', { type: 'terminate' });
      assert.equal(bye.body.attrs.type, 'terminate');
      assert.equal(bye.body.attrs.condition, undefined, bye.text);
    } finally {
      tcp?.destroy();
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      child.kill('SIGKILL');
    }
  });
});
