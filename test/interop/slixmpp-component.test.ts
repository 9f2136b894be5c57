// Interop with a real component library: slixmpp's ComponentXMPP (Debian's python3-slixmpp) connects to Parley's
// XEP-0114 port, shakes hands, answers disco#info for its domain itself and talks with an xmpp.js client.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../../packages/server/src/testing/harness';

const PYTHON = '/usr/bin/python3';
const available = spawnSync(PYTHON, ['-c', 'import slixmpp.componentxmpp'], { stdio: 'ignore' }).status === 0;

describe('interop: slixmpp ComponentXMPP (XEP-0114)', { skip: available ? false : 'python3-slixmpp is not installed (apt-get install python3-slixmpp)' }, () => {
  let ts: TestServer;
  let child: ChildProcess | undefined;
  let out = '';

  before(async () => {
    ts = await startTestServer({ components: { list: [{ domain: 'echo.localhost', secret: 'component-secret' }] } } as never);
    await ts.createUser('alice');
    const script = fileURLToPath(new URL('./slixmpp_component.py', import.meta.url));
    child = spawn(PYTHON, [script, '127.0.0.1', String(ts.componentPort), 'echo.localhost', 'component-secret']);
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const deadline = Date.now() + 20_000;
    while (!out.includes('READY')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the component did not connect: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    if (child?.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
    await ts.stop();
  });

  it('is listed by the server, answers disco#info itself, and chats with a client', async () => {
    assert.ok(ts.running.server.components.isConnected('echo.localhost'));
    const alice = await ts.client('alice');
    const items = await alice.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    assert.ok(items.getChild('query')?.getChildren('item').some((i) => i.attrs.jid === 'echo.localhost'), items.toString());

    const info = await alice.iq(`<iq type='get' to='echo.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.equal(info.attrs.type, 'result', info.toString());
    const identity = info.getChild('query')?.getChild('identity');
    assert.equal(identity?.attrs.category, 'gateway', info.toString());
    assert.equal(identity?.attrs.name, 'Echo gateway');

    await alice.send(`<message to='someone@echo.localhost' type='chat' id='c1'><body>ping</body></message>`);
    const echo = await alice.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'echo: ping', 10_000);
    assert.equal(echo.attrs.from, 'someone@echo.localhost');
  });
});
