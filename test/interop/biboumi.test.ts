// A real gateway end to end (XEP-0114): Debian's biboumi (the XMPP–IRC gateway) connects to Parley as the component
// biboumi.localhost, and ngircd serves IRC on loopback. A Parley user (xmpp.js) joins #chan%127.0.0.1@biboumi.localhost
// and talks with an IRC user (a raw TCP IRC client) both ways. Every process is started here, on loopback, with its
// configuration in a temporary directory, and stopped by PID.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../packages/server/src/testing/harness';

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = ['biboumi', 'ngircd'].filter((c) => !has(c));

const GATEWAY = 'biboumi.localhost';
const ROOM = `#chan%127.0.0.1@${GATEWAY}`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(what: string, cond: () => boolean, timeoutMs: number, log: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A minimal IRC client (RFC 2812): registers, answers PINGs, keeps every line received. */
class IrcClient {
  lines: string[] = [];
  private buffer = '';
  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      let i: number;
      while ((i = this.buffer.indexOf('\r\n')) !== -1) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        this.lines.push(line);
        if (line.startsWith('PING ')) this.send(`PONG ${line.slice(5)}`);
      }
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<IrcClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new IrcClient(s)));
      s.once('error', reject);
    });
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  has(pattern: RegExp): boolean {
    return this.lines.some((l) => pattern.test(l));
  }

  close(): void {
    this.socket.destroy();
  }
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.exitCode === null && child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

describe('interop: biboumi IRC gateway over XEP-0114, with ngircd', {
  skip: missing.length === 0 ? false : `${missing.join(' and ')} not installed (apt-get install biboumi ngircd)`,
}, () => {
  let ts: TestServer;
  let dir: string;
  let ircd: ChildProcess | undefined;
  let gateway: ChildProcess | undefined;
  let ircPort: number;
  let output = '';
  const log = () => output;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-biboumi-'));
    const secret = 'biboumi-test-secret';
    ts = await startTestServer({ components: { list: [{ domain: GATEWAY, secret }] } } as never);
    await ts.createUser('alice');

    ircPort = await freePort();
    // ngircd(8) in the foreground (-n), as this user, without PAM, ident or DNS lookups, on loopback only.
    writeFileSync(
      join(dir, 'ngircd.conf'),
      [
        '[Global]',
        'Name = irc.localhost',
        'Info = Parley test IRC server',
        'Listen = 127.0.0.1',
        `Ports = ${ircPort}`,
        `PidFile = ${join(dir, 'ngircd.pid')}`,
        'MotdPhrase = test',
        `ServerUID = ${process.getuid?.() ?? 0}`,
        `ServerGID = ${process.getgid?.() ?? 0}`,
        '[Limits]',
        'MaxConnectionsIP = 0',
        '[Options]',
        'PAM = no',
        'Ident = no',
        'DNS = no',
        '',
      ].join('\n'),
    );
    ircd = spawn('ngircd', ['-n', '-f', join(dir, 'ngircd.conf')]);
    ircd.stdout!.on('data', (d) => (output += `[ngircd] ${d}`));
    ircd.stderr!.on('data', (d) => (output += `[ngircd] ${d}`));

    // biboumi(1): the component's domain and secret, Parley's component port, its own database and policy directory,
    // no identd (it would listen on port 113).
    writeFileSync(join(dir, 'policy.txt'), '');
    writeFileSync(
      join(dir, 'biboumi.cfg'),
      [
        `hostname=${GATEWAY}`,
        `password=${secret}`,
        'xmpp_server_ip=127.0.0.1',
        `port=${ts.componentPort}`,
        `db_name=${join(dir, 'biboumi.sqlite')}`,
        `policy_directory=${dir}`,
        'identd_port=0',
        'realname_customization=true',
        'log_level=1',
        '',
      ].join('\n'),
    );
    gateway = spawn('biboumi', [join(dir, 'biboumi.cfg')], { cwd: dir });
    gateway.stdout!.on('data', (d) => (output += `[biboumi] ${d}`));
    gateway.stderr!.on('data', (d) => (output += `[biboumi] ${d}`));
    await until('biboumi is connected to Parley', () => ts.running.server.components.isConnected(GATEWAY), 15_000, log);
  });

  after(async () => {
    await stopProcess(gateway);
    await stopProcess(ircd);
    await ts?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a Parley user joins an IRC channel through biboumi and chats with an IRC user', async () => {
    const bob = await IrcClient.connect(ircPort);
    try {
      bob.send('NICK bob');
      bob.send('USER bob 0 * :Bob on IRC');
      await until('bob is registered on IRC', () => bob.has(/^:\S+ 001 bob /), 10_000, () => bob.lines.join('\n'));
      bob.send('JOIN #chan');
      await until('bob joined #chan', () => bob.has(/^:bob!\S+ JOIN :?#chan/), 10_000, () => bob.lines.join('\n'));

      const alice = await ts.client('alice');
      // biboumi tries TLS port 6697 first by default; this IRC server listens in plain text on a port of its own,
      // which the user configures through biboumi's XEP-0050 command on the IRC server's JID.
      const server = `127.0.0.1@${GATEWAY}`;
      const start = await alice.iq(`<iq type='set' to='${server}'><command xmlns='http://jabber.org/protocol/commands' node='configure' action='execute'/></iq>`);
      assert.equal(start.attrs.type, 'result', start.toString());
      const sessionid = start.getChild('command')!.attrs.sessionid!;
      const done = await alice.iq(
        `<iq type='set' to='${server}'><command xmlns='http://jabber.org/protocol/commands' node='configure' sessionid='${sessionid}'>` +
          `<x xmlns='jabber:x:data' type='submit'><field var='ports'><value>${ircPort}</value></field><field var='tls_ports'/></x></command></iq>`,
      );
      assert.equal(done.attrs.type, 'result', done.toString());

      // XEP-0045 join through the gateway: biboumi answers with the self-presence (status 110) once on IRC.
      await alice.send(`<presence to='${ROOM}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      await alice.waitFor(
        (el) =>
          el.name === 'presence' &&
          el.attrs.from === `${ROOM}/alice` &&
          el.attrs.type === undefined &&
          el.getChildren('x').some((x) => x.getChildren('status').some((st) => st.attrs.code === '110')),
        20_000,
      );
      await until('IRC sees alice join', () => bob.has(/^:alice!\S+ JOIN :?#chan/), 10_000, () => bob.lines.join('\n'));

      bob.send('PRIVMSG #chan :hello from IRC');
      const fromIrc = await alice.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'hello from IRC', 10_000);
      assert.equal(fromIrc.attrs.type, 'groupchat');
      assert.equal(fromIrc.attrs.from, `${ROOM}/bob`);

      await alice.send(`<message to='${ROOM}' type='groupchat'><body>hello from XMPP</body></message>`);
      await until('bob gets alice\'s message', () => bob.has(/^:alice!\S+ PRIVMSG #chan :hello from XMPP$/), 10_000, () => bob.lines.join('\n'));
    } finally {
      bob.close();
    }
  });
});
