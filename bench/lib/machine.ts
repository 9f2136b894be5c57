// Facts about the machine a run happened on, stored beside the numbers.

import os from 'node:os';
import fs from 'node:fs';
import { debVersion } from './proc';

export interface MachineFacts {
  nproc: number;
  cpu_model: string;
  mem_total_gib: number;
  kernel: string;
  os: string;
  node: string;
  loadavg_start: number[];
  loadavg_end?: number[];
  /** /proc/pressure/cpu at start (who else wants the CPU) */
  cpu_pressure_start: string | null;
  cpu_pressure_end?: string | null;
  packages: Record<string, string | null>;
  fd_limit_note: string;
}

export function cpuPressureLine(): string | null {
  try {
    return fs.readFileSync('/proc/pressure/cpu', 'utf8').split('\n')[0] ?? null;
  } catch {
    return null;
  }
}

export function machineFacts(): MachineFacts {
  let osName = `${os.type()} ${os.release()}`;
  try {
    const m = /PRETTY_NAME="([^"]+)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'));
    if (m) osName = m[1]!;
  } catch {
    // keep uname
  }
  const pkgs: Record<string, string | null> = {};
  for (const p of ['prosody', 'ejabberd', 'erlang-base', 'lua5.4', 'openssl']) pkgs[p] = debVersion(p) ?? null;
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    mem_total_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    os: osName,
    node: process.version,
    loadavg_start: os.loadavg().map((v) => Math.round(v * 100) / 100),
    cpu_pressure_start: cpuPressureLine(),
    packages: pkgs,
    fd_limit_note: 'a process may open at most 20,000 files here: sessions are spread over worker processes',
  };
}
