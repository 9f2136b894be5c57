// What a new administrator needs after the first start: where the data and the certificate are, how to add a user
// and how to connect; and a warning when the data directory holds accounts of another domain (started once with
// another --domain: those users exist, but not on the domain now served).
import { resolve } from 'node:path';
import { domainToASCII } from 'node:url';
import type { Config } from './config';
import type { ParleyServer } from './core/server';

export async function startupNotes(server: ParleyServer, config: Config, ports: { c2s: number; c2sTls: number | undefined; http?: number }): Promise<void> {
  const log = server.log;
  const hosts = await server.storage.accounts.hosts();
  const others = hosts.filter((h) => h.host !== config.domain);
  if (others.length > 0) {
    const list = others.map((h) => `${h.accounts} on ${h.host}`).join(', ');
    log.warn(
      { event: 'other-domain-accounts', domains: others },
      `the data directory ${resolve(config.data_dir)} also holds accounts of other domains (${list}); this server serves ${config.domain} only, so they cannot log in: start with --domain ${others[0]!.host}, or use another --data-dir for ${config.domain}`,
    );
  }
  if (hosts.some((h) => h.host === config.domain)) return;
  const base = domainToASCII(config.domain) || config.domain;
  const certificate =
    config.tls.cert !== undefined
      ? `${resolve(config.tls.cert)} (tls.cert)`
      : `${resolve(config.data_dir, 'certs', `${base}.crt`)} (self-signed, generated; clients will ask to accept it: set tls.cert and tls.key for a real one, see README "Certificates")`;
  const storage = config.storage.backend === 'sqlite' ? resolve(config.storage.path) : 'in memory (lost when the server stops)';
  const tls = ports.c2sTls !== undefined ? ` or ${ports.c2sTls} (direct TLS)` : '';
  log.info(
    { event: 'first-run', data_dir: resolve(config.data_dir), storage, certificate },
    [
      `Parley serves ${config.domain} and has no accounts yet.`,
      `  data:        ${resolve(config.data_dir)} (database ${storage})`,
      `  certificate: ${certificate}`,
      `  add a user:  npx parley user add alice${config.domain === 'localhost' ? '' : ` --domain ${config.domain}`} (in another terminal; asks for the password)`,
      `  connect:     any XMPP client as alice@${config.domain}, port ${ports.c2s} (STARTTLS)${tls}`,
      ...(ports.http ? [`  chat app:    http://localhost:${ports.http}/ in a browser on this machine`] : []),
      `  check:       npx parley status`,
    ].join('\n'),
  );
}
