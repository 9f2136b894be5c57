// Process helpers: free loopback ports, readiness, /proc accounting (RSS, CPU) of a server's
// process tree, and stopping exactly the processes we started, by PID.

import net from 'node:net';
import fs from 'node:fs';
import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

export const LOOPBACK = '127.0.0.1';
const CLK_TCK = 100; // Linux USER_HZ

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, LOOPBACK, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let i = 0; i < 50 && ports.size < n; i++) ports.add(await freePort());
  if (ports.size < n) throw new Error('could not find free ports');
  return [...ports];
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until something on host:port answers an XMPP stream header with its own. */
export async function waitForXmpp(
  port: number,
  domain: string,
  timeoutMs: number,
  alive: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = 'no answer';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error('server process exited during start-up');
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ host: LOOPBACK, port });
      let data = '';
      const done = (v: boolean): void => {
        clearTimeout(timer);
        sock.destroy();
        resolve(v);
      };
      const timer = setTimeout(() => done(false), 2000);
      sock.on('error', (e) => {
        lastErr = e.message;
        done(false);
      });
      sock.on('connect', () =>
        sock.write(
          `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='jabber:client' ` +
            `xmlns:stream='http://etherx.jabber.org/streams'>`,
        ),
      );
      sock.on('data', (d) => {
        data += d.toString();
        if (data.includes('<stream:features') || data.includes('stream:error')) {
          lastErr = data.slice(0, 200);
          done(data.includes('<stream:features'));
        }
      });
    });
    if (ok) return;
    await sleep(300);
  }
  throw new Error(`server on port ${port} not ready after ${timeoutMs} ms (${lastErr})`);
}

interface ProcStat {
  pid: number;
  ppid: number;
  ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
    return { pid, ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return undefined;
  }
}

/** The PID and all its descendants that are alive now. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(st.pid);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (!fs.existsSync(`/proc/${pid}`)) continue;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Resident set size (KiB) summed over the tree. */
export function treeRssKiB(root: number): number {
  let total = 0;
  for (const pid of processTree(root)) {
    try {
      const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) total += Number(m[1]);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** CPU seconds (user + system) used so far by the tree's live processes. */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) ticks += readStat(pid)?.ticks ?? 0;
  return ticks / CLK_TCK;
}

/**
 * CPU seconds (user + system) of one process's main thread alone (its task with the process's id): for Node, the
 * event loop, without worker threads, libuv's pool or the garbage collector's helper threads.
 */
export function mainThreadCpuSeconds(pid: number): number {
  try {
    const s = fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM the process and its descendants (by PID), SIGKILL whatever is left after the grace time. */
export async function stopTree(root: number, graceMs = 10_000): Promise<void> {
  const pids = processTree(root);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(isAlive)) await sleep(100);
  for (const pid of pids) {
    if (isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** Spawns a server with stdout/stderr appended to a log file. */
export function spawnLogged(cmd: string, args: string[], logFile: string, opts: SpawnOptions = {}): ChildProcess {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  return child;
}

export function tailFile(file: string, bytes = 2000): string {
  try {
    const s = fs.readFileSync(file, 'utf8');
    return s.slice(-bytes);
  } catch {
    return '';
  }
}

/** Installed Debian package version, or undefined. */
export function debVersion(pkg: string): string | undefined {
  try {
    const out = execFileSync('dpkg-query', ['-W', '-f=${Status}\t${Version}', pkg], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const [status, version] = out.split('\t');
    return status?.includes('installed') && !status.includes('not-installed') ? version : undefined;
  } catch {
    return undefined;
  }
}

let aptUpdated = false;

/** `apt-get install -y` the packages that are missing (after one `apt-get update`). */
export function ensureDebPackages(pkgs: string[], log: (s: string) => void): void {
  const missing = pkgs.filter((p) => !debVersion(p));
  if (missing.length === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    log(`apt-get update (to install ${missing.join(', ')})`);
    execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 300_000 });
    aptUpdated = true;
  }
  log(`apt-get install -y ${missing.join(' ')}`);
  execFileSync('apt-get', ['install', '-y', '-q', ...missing], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
    timeout: 600_000,
  });
}

/**
 * Linux PSI: total µs during which some runnable task waited for a CPU (/proc/pressure/cpu).
 * Its growth over a step, divided by the step's wall time, shows contention from anything on the
 * machine (other people's work included); undefined where PSI is not available.
 */
export function cpuPressureUs(): number | undefined {
  try {
    const m = /^some .*total=(\d+)/m.exec(fs.readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Measures CPU pressure (% of wall time some task waited for a CPU) between start and stop. */
export function pressureMeter(): () => number | null {
  const p0 = cpuPressureUs();
  const t0 = process.hrtime.bigint();
  return () => {
    const p1 = cpuPressureUs();
    if (p0 === undefined || p1 === undefined) return null;
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
    return Math.round((1000 * (p1 - p0)) / wallUs) / 10;
  };
}
