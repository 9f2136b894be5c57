// Coordinator side of the load generator: forks worker processes (a process may open at most
// 20,000 files here), sends them commands, and watches their CPU so that a saturated generator is
// reported instead of silently capping the numbers.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { CpuSample, SetupCmd, WorkerCmd, WorkerReply } from './ipc';
import { isAlive, sleep } from './proc';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.ts');

const MEASURED_OPS = new Set(['login-burst', 'connect', 'send-step']);

/** Highest share of one core any worker used during a command, with the command's name. */
export interface CpuWatch {
  maxCoreShare: number;
  op: string;
}

export class WorkerPool {
  private children: ChildProcess[] = [];
  private seq = 0;
  private pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  readonly cpu: CpuWatch = { maxCoreShare: 0, op: '' };
  warnings: string[] = [];

  private constructor(
    readonly size: number,
    private readonly log: (s: string) => void,
  ) {}

  static async start(size: number, setup: Omit<SetupCmd, 'op' | 'workerIndex'>, log: (s: string) => void): Promise<WorkerPool> {
    const p = new WorkerPool(size, log);
    for (let i = 0; i < size; i++) {
      const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (m: WorkerReply) => {
        const w = p.pending.get(m.id);
        if (w) {
          p.pending.delete(m.id);
          w.resolve(m);
        }
      });
      child.on('exit', (code, signal) => {
        for (const [id, w] of p.pending) {
          if ((id & 0xff) === i) {
            p.pending.delete(id);
            w.reject(new Error(`worker ${i} exited (${code ?? signal})`));
          }
        }
      });
      p.children.push(child);
    }
    await p.all((i) => ({ op: 'setup', ...setup, workerIndex: i }));
    return p;
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid ?? 0);
  }

  /** Sends one command to worker i; resolves with its data (throws on worker error). */
  async call<T>(i: number, cmd: WorkerCmd): Promise<{ data: T; cpu: CpuSample }> {
    const child = this.children[i];
    if (!child?.connected) throw new Error(`worker ${i} is not running`);
    const id = (++this.seq << 8) | i;
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.send({ id, cmd });
    });
    this.watchCpu(i, cmd.op, reply.cpu);
    if (!reply.ok) throw new Error(`worker ${i} ${cmd.op}: ${reply.error}`);
    return { data: reply.data as T, cpu: reply.cpu };
  }

  /** The same kind of command to every worker at once (built per worker). */
  async all<T>(build: (i: number) => WorkerCmd): Promise<Array<{ data: T; cpu: CpuSample }>> {
    return Promise.all(this.children.map((_, i) => this.call<T>(i, build(i))));
  }

  private watchCpu(i: number, op: string, cpu: CpuSample): void {
    // Only the timed operations; set-up (registration, rosters) may well saturate a worker.
    if (!MEASURED_OPS.has(op) || cpu.wallUs < 500_000) return; // too short to mean anything
    const share = cpu.cpuUs / cpu.wallUs;
    if (share > this.cpu.maxCoreShare) {
      this.cpu.maxCoreShare = share;
      this.cpu.op = op;
    }
    if (share > 0.8) {
      const w = `load-generator worker ${i} used ${(share * 100).toFixed(0)}% of a core during ${op}: results may be generator-bound`;
      this.warnings.push(w);
      this.log(`WARNING: ${w}`);
    }
  }

  /** Splits items round-robin over the workers. */
  split<T>(items: T[]): T[][] {
    const out: T[][] = Array.from({ length: this.size }, () => []);
    items.forEach((item, k) => out[k % this.size]!.push(item));
    return out;
  }

  async stop(): Promise<void> {
    await Promise.race([
      Promise.allSettled(this.children.map((_, i) => this.call(i, { op: 'exit' }))),
      sleep(3000),
    ]);
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && this.children.some((c) => c.pid && isAlive(c.pid))) await sleep(50);
    for (const c of this.children) if (c.pid && isAlive(c.pid)) c.kill('SIGKILL');
    this.children = [];
  }
}
