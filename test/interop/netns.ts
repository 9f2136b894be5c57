// Plumbing for federation tests against real servers (Prosody, ejabberd): a network namespace with a veth pair to
// this host, a per-namespace hosts file (/etc/netns/<ns>/hosts, bind-mounted over /etc/hosts by `ip netns exec`)
// naming the test domains, and peer processes started inside it, each in a process group of its own so that a
// SIGKILL reaches the whole tree (wrapper scripts and the Erlang VM alike). Names (namespace, interfaces, subnet)
// are unique per test process and per namespace; every `ip` call is bounded in time; everything is removed by
// remove(), and by an exit handler if the test process ends before it could run its after() hooks.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../../packages/server/src/log';

const IP_TIMEOUT_MS = 10_000;

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** What a namespace test lacks here: root (for `ip netns`), iproute2 and the given commands. */
export function missingForNamespaces(commands: string[]): string[] {
  const missing = ['ip', 'openssl', ...commands].filter((c) => !hasCommand(c));
  if (process.getuid?.() !== 0) missing.push('root (for ip netns)');
  return missing;
}

function run(args: string[]): void {
  execFileSync(args[0]!, args.slice(1), { stdio: 'ignore', timeout: IP_TIMEOUT_MS });
}

let created = 0;
const live = new Set<PeerNamespace>();
const livePeers = new Set<number>();
// Last resort when the test process ends without its after() hooks (a crash, Ctrl-C, the runner's SIGTERM): peers'
// process groups killed, namespaces and hosts files removed. Synchronous, as an 'exit' handler must be.
function removeEverything(): void {
  for (const pgid of livePeers) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  livePeers.clear();
  for (const ns of live) ns.remove();
}
process.once('exit', removeEverything);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    removeEverything();
    process.kill(process.pid, signal);
  });
}

export interface PeerNamespace {
  /** The namespace's name (`ip netns exec <name> …`). */
  name: string;
  /** This host's end of the veth. */
  hostIp: string;
  /** The namespace's end of the veth: where the peer listens. */
  peerIp: string;
  /** The command line running `argv` inside the namespace. */
  exec(argv: string[]): string[];
  /** Runs a command inside the namespace to completion (bounded in time); throws with its output on failure. */
  run(argv: string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): string;
  remove(): void;
}

/**
 * A namespace whose hosts file maps `hostNames` to this host's end of the veth and `peerNames` to its own end.
 * Also writes an empty-answering resolv.conf (a nameserver on this host's veth address, where nothing listens), so
 * DNS lookups inside fail at once instead of reaching the host's resolver.
 */
export function createNamespace(hostNames: string[], peerNames: string[]): PeerNamespace {
  const n = created++;
  const tag = `${process.pid.toString(36)}${n.toString(36)}`;
  // 10.100.0.0 – 10.227.255.0: one /24 per (process, namespace).
  const slot = (process.pid * 8 + n) % (128 * 256);
  const net = `10.${100 + (slot >> 8)}.${slot & 255}`;
  const name = `parley-s2s-${tag}`;
  const hostIf = `vp${tag}h`;
  const peerIf = `vp${tag}n`;
  const hostIp = `${net}.1`;
  const peerIp = `${net}.2`;
  let removed = false;
  const ns: PeerNamespace = {
    name,
    hostIp,
    peerIp,
    exec: (argv) => ['ip', 'netns', 'exec', name, ...argv],
    run(argv, options = {}) {
      const r = spawnSync('ip', ['netns', 'exec', name, ...argv], { encoding: 'utf8', env: options.env ?? process.env, timeout: options.timeoutMs ?? 30_000 });
      if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stdout}${r.stderr}${r.error?.message ?? ''}`);
      return r.stdout;
    },
    remove() {
      if (removed) return;
      removed = true;
      live.delete(ns);
      spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: IP_TIMEOUT_MS });
      spawnSync('ip', ['link', 'del', hostIf], { stdio: 'ignore', timeout: IP_TIMEOUT_MS });
      rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
    },
  };
  live.add(ns);
  try {
    run(['ip', 'netns', 'add', name]);
    run(['ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf]);
    run(['ip', 'link', 'set', peerIf, 'netns', name]);
    run(['ip', 'addr', 'add', `${hostIp}/24`, 'dev', hostIf]);
    run(['ip', 'link', 'set', hostIf, 'up']);
    run(['ip', 'netns', 'exec', name, 'ip', 'addr', 'add', `${peerIp}/24`, 'dev', peerIf]);
    run(['ip', 'netns', 'exec', name, 'ip', 'link', 'set', peerIf, 'up']);
    run(['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
    // `ip netns exec` mounts these over /etc/hosts and /etc/resolv.conf inside the namespace.
    mkdirSync(`/etc/netns/${name}`, { recursive: true });
    const lines = ['127.0.0.1 localhost', ...hostNames.map((h) => `${hostIp} ${h}`), ...peerNames.map((p) => `${peerIp} ${p}`)];
    writeFileSync(`/etc/netns/${name}/hosts`, `${lines.join('\n')}\n`);
    writeFileSync(`/etc/netns/${name}/resolv.conf`, `nameserver ${hostIp}\noptions timeout:1 attempts:1\n`);
  } catch (err) {
    ns.remove();
    throw err;
  }
  return ns;
}

/** A self-signed certificate for `domain` and `*.domain` (dialback tests: it validates nowhere). */
export function selfSignedCertificate(dir: string, domain: string): { cert: string; key: string } {
  const cert = `${dir}/${domain}.crt`;
  const key = `${dir}/${domain}.key`;
  run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', `/CN=${domain}`, '-addext', `subjectAltName=DNS:${domain},DNS:*.${domain}`]);
  return { cert, key };
}

export async function isListening(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A peer server run inside a namespace, in a process group of its own; its log file is read for diagnostics. */
export class PeerProcess {
  private child: ChildProcess | undefined;

  constructor(
    private readonly ns: PeerNamespace,
    private readonly label: string,
    private readonly argv: string[],
    /** `logFile`: the peer's own log; its standard output and error go to `<logFile>.console`. */
    private readonly options: { env?: NodeJS.ProcessEnv; logFile: string; ports: number[] },
  ) {}

  /** Starts the peer and waits (bounded) until it accepts connections on each of its ports. */
  async start(timeoutMs = 30_000): Promise<void> {
    const out = openSync(`${this.options.logFile}.console`, 'a');
    const [command, ...args] = this.ns.exec(this.argv);
    const child = spawn(command!, args, { stdio: ['ignore', out, out], detached: true, env: this.options.env ?? process.env });
    closeSync(out);
    this.child = child;
    const pgid = child.pid;
    if (pgid !== undefined) {
      livePeers.add(pgid);
      child.once('exit', () => livePeers.delete(pgid));
    }
    const end = Date.now() + timeoutMs;
    for (const port of this.options.ports) {
      while (!(await isListening(this.ns.peerIp, port))) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${this.label} exited (${child.exitCode ?? child.signalCode})\n${this.log()}`);
        if (Date.now() > end) throw new Error(`${this.label} did not listen on ${this.ns.peerIp}:${port}\n${this.log()}`);
        await sleep(100);
      }
    }
  }

  /** Sends a signal to the peer's whole process group and waits (bounded) for the process to end. */
  async kill(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(-child.pid, signal);
    } catch {
      return;
    }
    const done = await Promise.race([exited.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!done && signal !== 'SIGKILL') await this.kill('SIGKILL', timeoutMs);
    // Ports inside the namespace are free once the listener is gone.
    for (const port of this.options.ports) {
      const end = Date.now() + timeoutMs;
      while ((await isListening(this.ns.peerIp, port)) && Date.now() < end) await sleep(100);
    }
  }

  /** The last lines of the peer's log. */
  log(lines = 60): string {
    const tail = (file: string) => {
      try {
        return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return `(nothing at ${file})`;
      }
    };
    return `${tail(this.options.logFile)}\n--- console:\n${tail(`${this.options.logFile}.console`)}`;
  }
}

/** A Parley logger whose lines (JSON) are kept, to assert which authentication method a stream used. */
export function capturingLogger(level = 'info'): { log: Logger; lines: string[]; find(msg: string, fields?: Record<string, string>): boolean } {
  const lines: string[] = [];
  const log = createLogger(level, 'parley', { format: 'json', destination: { write: (s: string) => void lines.push(s) } as never });
  return {
    log,
    lines,
    find(msg, fields = {}) {
      return lines.some((line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        return entry.msg === msg && Object.entries(fields).every(([k, v]) => entry[k] === v);
      });
    },
  };
}
