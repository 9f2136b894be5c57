// Dead and idle server-to-server streams, Parley <-> Parley. Whitespace keepalives (RFC 6120 §4.6.1) on idle streams;
// a peer that stops reading (a child Parley stopped with SIGSTOP) is noticed (s2s.write_timeout_s, s2s.max_send_buffer)
// without the sender buffering without bound, and the next stanza builds a new stream; a peer killed with SIGKILL and
// restarted is reached again.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../testing/harness';
import { freePort, startPair } from '../testing/s2s';
import { isListening } from '../testing/process';

const BIN = fileURLToPath(new URL('../../../cli/bin/parley.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

describe('whitespace keepalives on idle server-to-server streams', () => {
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    ({ a, b } = await startPair({ whitespace_ping_s: 1 }, { whitespace_ping_s: 0 }));
    await a.createUser('alice');
    await b.createUser('bob');
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('sends a space on a stream idle for s2s.whitespace_ping_s, and nothing when it is 0', async () => {
    const alice = await a.client('alice');
    const bob = await b.client('bob');
    await alice.send(`<message to='bob@b.test' type='chat'><body>then silence</body></message>`);
    await bob.waitFor((el) => el.getChildText('body') === 'then silence');
    await bob.send(`<message to='alice@a.test' type='chat'><body>silence too</body></message>`);
    await alice.waitFor((el) => el.getChildText('body') === 'silence too');
    const received = (at: TestServer, from: string) => at.running.server.s2s!.incomingStreams().find((s) => s.domains.includes(from))!.bytesReceived;
    const fromA = received(b, 'a.test');
    const fromB = received(a, 'b.test');
    await sleep(2600);
    assert.ok(received(b, 'a.test') - fromA >= 2, `a.test (whitespace_ping_s 1) sent ${received(b, 'a.test') - fromA} keepalive bytes in 2.6 s`);
    assert.equal(received(a, 'b.test'), fromB, 'b.test (whitespace_ping_s 0) sent nothing');
  });
});

describe('a peer that stops reading, then one killed and restarted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-s2s-dead-'));
  const MAX_SEND_BUFFER = 262144;
  let a: TestServer;
  let portB: number;
  let configB: string;
  let child: ChildProcess | undefined;
  let output = '';

  const startB = async () => {
    child = spawn(process.execPath, [BIN, 'start', '--config', configB], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    await until(`b.test listens (${output})`, () => isListening(portB), 60_000);
  };

  before(async () => {
    const portA = await freePort();
    portB = await freePort();
    a = await startTestServer({
      domain: 'a.test',
      s2s: { port: portA, connect_timeout_s: 2, write_timeout_s: 1, max_send_buffer: MAX_SEND_BUFFER, static_routes: { 'b.test': `127.0.0.1:${portB}` } },
    } as never);
    await a.createUser('alice');
    configB = join(dir, 'b.yml');
    writeFileSync(
      configB,
      [
        'domain: b.test',
        `data_dir: ${JSON.stringify(dir)}`,
        'storage:',
        '  backend: memory',
        'c2s:',
        '  port: 0',
        '  tls_port: 0',
        '  bind: 127.0.0.1',
        'http:',
        '  port: 0',
        '  tls_port: 0',
        '  bind: 127.0.0.1',
        's2s:',
        `  port: ${portB}`,
        '  bind: 127.0.0.1',
        '  max_bytes_per_second: 0',
        `  static_routes: { 'a.test': '127.0.0.1:${portA}' }`,
        '',
      ].join('\n'),
    );
    await startB();
  });
  after(async () => {
    if (child && child.exitCode === null && child.signalCode !== 'SIGKILL') {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await a?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('notices a stopped peer without buffering for it without bound, and rebuilds the stream once it runs again', async () => {
    const alice = await a.client('alice');
    const ping = async (id: string) => alice.iq(`<iq type='get' to='b.test' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`, 15_000);
    assert.equal((await ping('p1')).attrs.type, 'result');
    child!.kill('SIGSTOP');
    // Headlines to nobody: b.test would drop them silently (RFC 6121 §8.5.2.1.1) if it read them.
    const body = 'x'.repeat(60_000);
    let maxBuffered = 0;
    let stale = false;
    for (let i = 0; i < 400 && !stale; i++) {
      await alice.send(`<message to='nobody@b.test' type='headline'><body>${i} ${body}</body></message>`);
      if (i % 10 === 9) await sleep(10);
      const links = a.running.server.s2s!.outgoingStreams().filter((l) => l.domain === 'b.test');
      for (const l of links) maxBuffered = Math.max(maxBuffered, l.bufferedBytes);
      stale = links.every((l) => l.authenticated.length === 0);
    }
    // The stream is closed by the write timeout or the send buffer bound; a new one cannot be set up meanwhile.
    await until('the stream to the stopped peer is given up', () => a.running.server.s2s!.outgoingStreams().every((l) => l.domain !== 'b.test' || l.authenticated.length === 0));
    assert.ok(maxBuffered <= MAX_SEND_BUFFER + 2 * 61_000, `at most the bound waited for b.test: ${maxBuffered} bytes`);
    const lost = await ping('p2');
    assert.equal(lost.attrs.type, 'error', lost.toString());
    assert.ok(lost.getChild('error')?.getChild('remote-server-timeout') ?? lost.getChild('error')?.getChild('remote-server-not-found'), lost.toString());
    child!.kill('SIGCONT');
    await until('b.test answers again', async () => (await ping(`p3-${Date.now()}`)).attrs.type === 'result', 30_000);
  });

  it('reaches a peer killed with SIGKILL and restarted', async () => {
    const alice = await a.client('alice');
    child!.kill('SIGKILL');
    await until('b.test is gone', async () => !(await isListening(portB)));
    await startB();
    const pong = await alice.iq(`<iq type='get' to='b.test' id='after-restart'><ping xmlns='urn:xmpp:ping'/></iq>`, 15_000);
    assert.equal(pong.attrs.type, 'result', pong.toString());
  });
});
