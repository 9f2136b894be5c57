// Interop with a real terminal client, as a person would use it: two profanity instances (Debian's `profanity`)
// driven in tmux (send-keys to type, capture-pane to read the screen), over STARTTLS with the self-signed dev
// certificate trusted (`tls.policy=trust`). Each instance has its own HOME/XDG dirs in a temporary directory, and
// the test's tmux server listens on its own socket there; everything started is stopped by PID.
import { describe, it, before, after } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../../packages/server/src/testing/harness';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const skip = !has('profanity')
  ? 'profanity is not installed (apt-get install profanity)'
  : !has('tmux')
    ? 'tmux is not installed (apt-get install tmux)'
    : false;

class Tmux {
  constructor(readonly socket: string) {}
  run(...args: string[]): string {
    const r = spawnSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8', timeout: 5000 });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }
  tryRun(...args: string[]): string | undefined {
    const r = spawnSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8', timeout: 5000 });
    return r.status === 0 ? r.stdout : undefined;
  }
  serverPid(): number | undefined {
    const out = this.tryRun('display-message', '-p', '#{pid}');
    return out ? Number(out.trim()) : undefined;
  }
}

/** One profanity instance in its own tmux session with its own HOME. */
class Profanity {
  panePid?: number;
  constructor(
    readonly tmux: Tmux,
    readonly name: string,
    readonly home: string,
  ) {}

  /** Starts profanity; with an account name it connects at once (`-a`), else it waits at its console. */
  start(account?: string): void {
    const env = [
      `HOME=${this.home}`,
      `XDG_CONFIG_HOME=${join(this.home, '.config')}`,
      `XDG_DATA_HOME=${join(this.home, '.local/share')}`,
      `GNUPGHOME=${join(this.home, '.gnupg')}`,
      'TERM=xterm-256color',
      'LANG=C.UTF-8',
    ].join(' ');
    this.tmux.run('new-session', '-d', '-s', this.name, '-x', '200', '-y', '50', `env ${env} profanity${account ? ` -a ${account}` : ''}`);
    this.panePid = Number(this.tmux.run('display-message', '-p', '-t', this.name, '#{pane_pid}').trim());
  }

  type(line: string): void {
    // -l: literal text (no key-name lookup), then Enter as a key.
    this.tmux.run('send-keys', '-t', this.name, '-l', line);
    this.tmux.run('send-keys', '-t', this.name, 'Enter');
  }

  screen(): string {
    return this.tmux.tryRun('capture-pane', '-p', '-t', this.name) ?? '';
  }

  async waitFor(pattern: RegExp, what: string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let s = '';
    while (Date.now() < deadline) {
      s = this.screen();
      if (pattern.test(s)) return s;
      await sleep(150);
    }
    throw new Error(`${this.name}: timeout waiting for ${what} (${pattern}); screen:\n${s}`);
  }

  alive(): boolean {
    if (!this.panePid) return false;
    try {
      // A zombie (exited, not yet reaped by tmux) counts as gone.
      const stat = readFileSync(`/proc/${this.panePid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  }

  async waitExit(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.alive() && Date.now() < deadline) await sleep(100);
    if (this.alive()) throw new Error(`${this.name}: profanity did not exit; ps: ${spawnSync('ps', ['-o', 'pid,ppid,stat,cmd', '-p', String(this.panePid)], { encoding: 'utf8' }).stdout}; screen:\n${this.screen()}`);
  }

  kill(): void {
    if (this.alive()) process.kill(this.panePid!, 'SIGKILL');
  }
}

function makeHome(home: string): void {
  mkdirSync(join(home, '.local/share/profanity'), { recursive: true });
  mkdirSync(join(home, '.config/profanity'), { recursive: true });
  mkdirSync(join(home, '.gnupg'), { recursive: true, mode: 0o700 });
}

/** A saved profanity account with its password, so `profanity -a USER` logs in without a prompt. */
function writeAccount(home: string, user: string, port: number): void {
  const dir = join(home, '.local/share/profanity');
  makeHome(home);
  writeFileSync(
    join(dir, 'accounts'),
    [
      `[${user}]`,
      'enabled=true',
      `jid=${user}@localhost`,
      `password=secret`,
      'resource=profanity',
      'server=127.0.0.1',
      `port=${port}`,
      'tls.policy=trust',
      'presence.login=online',
      '',
    ].join('\n'),
  );
}

describe('interop: profanity', { skip, timeout: 120_000 }, () => {
  let ts: TestServer;
  let dir: string;
  let tmux: Tmux;
  const instances: Profanity[] = [];

  before(async () => {
    // TLS required, as in production: profanity negotiates STARTTLS and SCRAM.
    ts = await startTestServer({ c2s: { allow_plaintext_auth: false } } as never);
    await ts.createUser('alice');
    await ts.createUser('bob');
    dir = mkdtempSync(join(tmpdir(), 'parley-profanity-'));
    tmux = new Tmux(join(dir, 'tmux.sock'));
  });

  after(async () => {
    const serverPid = tmux?.serverPid();
    for (const p of instances) p.kill();
    if (serverPid) {
      try {
        process.kill(serverPid, 'SIGTERM');
      } catch {
        // already gone: tmux exits by itself when its last session ends
      }
    }
    await ts?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function launch(user: string, session: string, account?: string): Profanity {
    const home = join(dir, user);
    const p = new Profanity(tmux, session, home);
    instances.push(p);
    p.start(account);
    return p;
  }

  it('two people subscribe, see each other online, chat, and get a message sent while offline', async () => {
    // Alice logs in by hand: /connect, then types her password at the prompt.
    makeHome(join(dir, 'alice'));
    const alice = launch('alice', 'alice');
    await alice.waitFor(/Type '\/help' to show complete help/, 'alice sees the console');
    alice.type(`/connect alice@localhost server 127.0.0.1 port ${ts.port} tls trust`);
    await alice.waitFor(/Enter password:/, 'alice is asked for her password');
    alice.type('secret');
    await alice.waitFor(/alice@localhost\/\S+ logged in successfully/, 'alice logged in');
    // Bob has a saved account (with password) and starts with `profanity -a bob`.
    writeAccount(join(dir, 'bob'), 'bob', ts.port);
    const bob = launch('bob', 'bob', 'bob');
    await bob.waitFor(/bob@localhost\/profanity logged in successfully/, 'bob logged in');
    // Both on STARTTLS: the status bar says [TLS] (the server requires it anyway).
    await alice.waitFor(/\[TLS\] \[online\]/, 'alice is on TLS');
    await bob.waitFor(/\[TLS\] \[online\]/, 'bob is on TLS');

    // Mutual subscription: each asks, the other allows.
    alice.type('/sub request bob@localhost');
    await alice.waitFor(/Sent subscription request to bob@localhost/, 'alice sent the request');
    await bob.waitFor(/Received authorization request from alice@localhost/, 'bob sees the request');
    bob.type('/sub allow alice@localhost');
    await bob.waitFor(/Accepted subscription for alice@localhost/, 'bob accepted');
    bob.type('/sub request alice@localhost');
    await alice.waitFor(/Received authorization request from bob@localhost/, 'alice sees the request');
    alice.type('/sub allow bob@localhost');
    await alice.waitFor(/Accepted subscription for bob@localhost/, 'alice accepted');

    // Presence: both see the other as online with /who and /sub show.
    alice.type('/clear');
    alice.type('/who online');
    await alice.waitFor(/Contacts \(online\):.*\n.*bob@localhost is online/, 'alice sees bob online');
    alice.type('/clear');
    alice.type('/sub show bob@localhost');
    await alice.waitFor(/bob@localhost subscription status: both/, 'alice and bob subscribed both ways');
    bob.type('/clear');
    bob.type('/who online');
    await bob.waitFor(/Contacts \(online\):.*\n.*alice@localhost is online/, 'bob sees alice online');

    // Chat: alice opens a chat window and writes; bob's client opens a window for the incoming message.
    alice.type('/msg bob@localhost hello bob, this is alice');
    await alice.waitFor(/^ bob@localhost \[online\]/m, 'the chat window shows bob online');
    await alice.waitFor(/me: hello bob, this is alice/, 'alice sees her message in the chat window');
    bob.type('/msg alice@localhost');
    await bob.waitFor(/alice@localhost(\/\S+)?: hello bob, this is alice/, 'bob reads the message');
    bob.type('hi alice');
    await alice.waitFor(/bob@localhost(\/\S+)?: hi alice/, 'alice reads the reply');

    // Bob quits; alice sees him go offline and writes to him anyway.
    bob.type('/quit');
    await bob.waitExit();
    // The chat window's title bar shows the contact's presence.
    await alice.waitFor(/^ bob@localhost \[offline\]/m, 'alice sees bob offline');
    alice.type('are you there? sent while you were away');
    await alice.waitFor(/me: are you there\? sent while you were away/, 'alice sent the offline message');

    // Bob logs in again: the server delivers the stored message and profanity shows it.
    tmux.tryRun('kill-session', '-t', 'bob'); // the session is gone with its only pane; make sure of it
    const bob2 = launch('bob', 'bob2', 'bob');
    await bob2.waitFor(/bob@localhost\/profanity logged in successfully/, 'bob logged in again');
    bob2.type('/msg alice@localhost');
    await bob2.waitFor(/alice@localhost(\/\S+)?: are you there\? sent while you were away/, 'bob reads the offline message');

    alice.type('/quit');
    bob2.type('/quit');
    await alice.waitExit();
    await bob2.waitExit();
  });
});
