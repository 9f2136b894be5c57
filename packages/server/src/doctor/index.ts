// `parley doctor`, as `prosodyctl check` does: the configuration and its files, the certificate, the DNS records
// clients and servers look up (RFC 6120 §3.2.1 SRV, XEP-0368 _xmpps-* for direct TLS, RFC 6120 §3.2.2 the domain's
// own address records as fallback), whether the server listens, and the data directory's permissions. Every problem
// comes with a suggested fix; an unreachable resolver is a finding, never a crash.
import { Resolver } from 'node:dns/promises';
import { statSync } from 'node:fs';
import { connect } from 'node:net';
import type { Config } from '../config';
import { checkConfigFiles } from '../config/check';
import { isSocketLive } from '../control/control-server';

export interface Finding {
  level: 'ok' | 'warn' | 'error';
  check: 'config' | 'certificate' | 'dns' | 'ports' | 'permissions';
  message: string;
  /** What to do about it (warn and error). */
  fix?: string;
}

export interface DoctorOptions {
  /** DNS servers to ask ('127.0.0.1:5353', '[::1]:53'); default the system's. */
  resolvers?: string[];
  /** Per-query timeout in milliseconds. */
  dnsTimeoutMs?: number;
}

interface Srv {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEOUT', 'ESERVFAIL', 'ECONNRESET', 'EREFUSED']);

export async function runDoctor(config: Config, options: DoctorOptions = {}): Promise<Finding[]> {
  const findings: Finding[] = [];
  const files = checkConfigFiles(config);
  for (const e of files.errors) findings.push({ level: 'error', check: e.startsWith('tls.') ? 'certificate' : 'config', message: e, fix: fixOf(e) });
  for (const w of files.warnings) findings.push({ level: 'warn', check: 'certificate', message: w, fix: fixOf(w) });
  if (files.errors.length === 0) findings.push({ level: 'ok', check: 'config', message: 'configuration and the files it names are usable' });
  findings.push(...(await checkDns(config, options)));
  findings.push(...(await checkPorts(config)));
  findings.push(...checkPermissions(config));
  return findings;
}

/** The "; …" advice check.ts appends, as the fix. */
function fixOf(message: string): string | undefined {
  const i = message.indexOf('; ');
  return i === -1 ? undefined : message.slice(i + 2);
}

async function checkDns(config: Config, options: DoctorOptions): Promise<Finding[]> {
  const out: Finding[] = [];
  const domain = config.domain;
  if (domain === 'localhost' || domain.endsWith('.localhost') || domain.endsWith('.local')) {
    return [{ level: 'ok', check: 'dns', message: `${domain} is a local name: no DNS records to check` }];
  }
  const resolver = new Resolver({ timeout: options.dnsTimeoutMs ?? 3000, tries: 1 });
  if (options.resolvers?.length) resolver.setServers(options.resolvers);
  let unreachable = false;
  const lookup = async <T>(what: () => Promise<T>, empty: T): Promise<T> => {
    if (unreachable) return empty;
    try {
      return await what();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (UNREACHABLE.has(code)) unreachable = true;
      return empty;
    }
  };

  const srv = async (name: string) => lookup(() => resolver.resolveSrv(name) as Promise<Srv[]>, [] as Srv[]);
  const client = await srv(`_xmpp-client._tcp.${domain}`);
  const clientTls = await srv(`_xmpps-client._tcp.${domain}`);
  const server = config.s2s.enabled ? await srv(`_xmpp-server._tcp.${domain}`) : [];
  if (unreachable) {
    const which = options.resolvers?.join(', ') ?? 'the system resolver';
    return [{ level: 'warn', check: 'dns', message: `DNS could not be checked: ${which} did not answer`, fix: 'check the network and /etc/resolv.conf, or pass --resolver 1.1.1.1' }];
  }

  const targets = new Set<string>();
  const report = (record: string, found: Srv[], port: number, missing: Finding) => {
    if (found.length === 0) return out.push(missing);
    for (const r of found) targets.add(r.name);
    const ports = found.map((r) => `${r.name}:${r.port}`).join(', ');
    if (found.some((r) => r.port === port)) out.push({ level: 'ok', check: 'dns', message: `${record} → ${ports}` });
    else out.push({ level: 'warn', check: 'dns', message: `${record} → ${ports}, but the server listens on port ${port}`, fix: `point the SRV record at port ${port}, or change the listener's port` });
  };
  report(`_xmpp-client._tcp.${domain}`, client, config.c2s.port, {
    level: 'warn',
    check: 'dns',
    message: `no SRV record _xmpp-client._tcp.${domain}: clients will connect to ${domain} on port 5222`,
    fix: `add "_xmpp-client._tcp.${domain}. IN SRV 5 0 ${config.c2s.port} <server host>." (README: DNS records)`,
  });
  report(`_xmpps-client._tcp.${domain}`, clientTls, config.c2s.tls_port, {
    level: 'warn',
    check: 'dns',
    message: `no SRV record _xmpps-client._tcp.${domain} (XEP-0368): clients will not find direct TLS`,
    fix: `add "_xmpps-client._tcp.${domain}. IN SRV 5 0 ${config.c2s.tls_port} <server host>."`,
  });
  if (config.s2s.enabled) {
    report(`_xmpp-server._tcp.${domain}`, server, config.s2s.port, {
      level: 'warn',
      check: 'dns',
      message: `no SRV record _xmpp-server._tcp.${domain}: other servers will try ${domain} on port 5269`,
      fix: `add "_xmpp-server._tcp.${domain}. IN SRV 5 0 ${config.s2s.port} <server host>."`,
    });
  }

  // RFC 6120 §3.2.2: without SRV, the domain itself must resolve; with SRV, each target must.
  if (targets.size === 0) targets.add(domain);
  for (const host of targets) {
    const v4 = await lookup(() => resolver.resolve4(host), [] as string[]);
    const v6 = await lookup(() => resolver.resolve6(host), [] as string[]);
    if (unreachable) {
      out.push({ level: 'warn', check: 'dns', message: 'DNS stopped answering during the checks', fix: 'check the network and the resolver, then run doctor again' });
      break;
    }
    if (v4.length === 0 && v6.length === 0) {
      out.push({ level: 'error', check: 'dns', message: `${host} has no A or AAAA record: clients cannot reach the server`, fix: `add "${host}. IN A <the server's address>" (and AAAA for IPv6)` });
    } else {
      out.push({ level: 'ok', check: 'dns', message: `${host} → ${[...v4, ...v6].join(', ')}` });
      if (v6.length === 0) out.push({ level: 'warn', check: 'dns', message: `${host} has no AAAA record: IPv6-only clients cannot connect`, fix: `add "${host}. IN AAAA <the server's IPv6 address>" if it has one` });
    }
  }
  return out;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function checkPorts(config: Config): Promise<Finding[]> {
  const running = config.control.enabled && (await isSocketLive(config.control.socket));
  const out: Finding[] = [];
  const listeners: [string, number][] = [['c2s.port', config.c2s.port], ['c2s.tls_port', config.c2s.tls_port]];
  for (const [key, port] of listeners) {
    if (port === 0) continue;
    const open = await canConnect(port);
    if (running && open) out.push({ level: 'ok', check: 'ports', message: `${key} ${port} accepts connections` });
    else if (running) out.push({ level: 'error', check: 'ports', message: `the server runs but nothing accepts connections on ${key} ${port} (127.0.0.1)`, fix: `check c2s.bind and the server's log for the listener` });
    else if (open) out.push({ level: 'error', check: 'ports', message: `the server is not running, but another program listens on ${key} ${port}`, fix: `stop that program (ss -ltnp 'sport = :${port}'), or choose another ${key}` });
    else out.push({ level: 'warn', check: 'ports', message: `the server is not running: ${key} ${port} is free`, fix: "start it with 'parley start' (or systemctl start parley)" });
  }
  return out;
}

function checkPermissions(config: Config): Finding[] {
  let mode: number;
  try {
    mode = statSync(config.data_dir).mode & 0o777;
  } catch {
    return [{ level: 'ok', check: 'permissions', message: `${config.data_dir} does not exist yet (created 0700 on first start)` }];
  }
  if ((mode & 0o077) !== 0) {
    return [{
      level: 'warn',
      check: 'permissions',
      message: `${config.data_dir} has mode 0${mode.toString(8)}: other users can reach the database, keys and control socket in it`,
      fix: `chmod 700 ${config.data_dir}`,
    }];
  }
  return [{ level: 'ok', check: 'permissions', message: `${config.data_dir} is private (0${mode.toString(8)})` }];
}
