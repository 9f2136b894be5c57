// What `parley check-config` (and `parley doctor`) verify beyond the schema: the files a configuration names exist
// and can be read, the certificate and key belong together, and the certificate covers the domain (RFC 6120
// §13.7.1.2: clients check the domain against the certificate, RFC 6125) and, as a warning, the service
// sub-domains clients and other servers reach directly (conference., pubsub., …).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { domainToASCII } from 'node:url';
import type { Config } from './schema';

export interface ConfigCheck {
  /** Problems that stop the server or break clients; each says what to do. */
  errors: string[];
  /** Problems some clients or servers will meet. */
  warnings: string[];
}

const DAY_MS = 86_400_000;
/** Warn this long before a certificate expires (Let's Encrypt renews 30 days before). */
const EXPIRY_WARNING_DAYS = 14;

/** Why a file cannot be read, or undefined when it can. */
function unreadable(path: string): string | undefined {
  if (!existsSync(path)) return 'does not exist';
  try {
    if (statSync(path).isDirectory()) return 'is a directory, expected a file';
    accessSync(path, constants.R_OK);
  } catch {
    return 'is not readable by this user (check its owner and mode)';
  }
  return undefined;
}

/** The enabled service addresses (services.* not false). */
export function serviceDomains(config: Pick<Config, 'services'>): string[] {
  return Object.values(config.services).filter((d): d is string => typeof d === 'string');
}

export function checkConfigFiles(config: Config): ConfigCheck {
  const errors: string[] = [];
  const warnings: string[] = [];

  // The data directory (database, generated certificate, control socket) must be writable, or creatable.
  let dir = config.data_dir;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    errors.push(`data_dir: '${config.data_dir}' is not writable by this user (${dir}); change its owner, or set data_dir to a directory the server user owns`);
  }

  const { cert: certPath, key: keyPath } = config.tls;
  if (certPath === undefined || keyPath === undefined) return { errors, warnings };
  const certProblem = unreadable(certPath);
  const keyProblem = unreadable(keyPath);
  if (certProblem) errors.push(`tls.cert: '${certPath}' ${certProblem}; set tls.cert to your certificate chain (PEM), or remove tls.cert and tls.key to use a generated self-signed one`);
  if (keyProblem) errors.push(`tls.key: '${keyPath}' ${keyProblem}; set tls.key to the certificate's private key (PEM)`);
  if (certProblem || keyProblem) return { errors, warnings };

  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certPath));
  } catch (err) {
    errors.push(`tls.cert: '${certPath}' is not a PEM certificate (${(err as Error).message})`);
    return { errors, warnings };
  }
  try {
    const key = createPrivateKey(readFileSync(keyPath));
    if (!cert.checkPrivateKey(key)) errors.push(`tls.key: '${keyPath}' does not belong to the certificate '${certPath}'; use the key the certificate was issued for`);
  } catch (err) {
    errors.push(`tls.key: '${keyPath}' is not an unencrypted PEM private key (${(err as Error).message})`);
  }

  const now = Date.now();
  const notAfter = Date.parse(cert.validTo);
  if (Date.parse(cert.validFrom) > now) errors.push(`tls.cert: '${certPath}' is not valid before ${cert.validFrom}`);
  if (notAfter < now) errors.push(`tls.cert: '${certPath}' expired on ${cert.validTo}; renew it (e.g. certbot renew) and reload with SIGHUP`);
  else if (notAfter - now < EXPIRY_WARNING_DAYS * DAY_MS) warnings.push(`tls.cert: '${certPath}' expires on ${cert.validTo}; renew it soon`);

  // RFC 6125 §6.4: the reference identity is the DNS domain (A-labels for IDNs), wildcards cover one label.
  const covers = (domain: string) => cert.checkHost(domainToASCII(domain) || domain, { subject: 'default' }) !== undefined;
  if (!covers(config.domain)) {
    errors.push(`tls.cert: '${certPath}' does not cover the domain ${config.domain} (it names ${names(cert)}); get a certificate for ${config.domain}`);
  }
  const uncovered = serviceDomains(config).filter((d) => !covers(d));
  if (uncovered.length > 0) {
    warnings.push(`tls.cert: '${certPath}' does not cover ${uncovered.join(', ')} (services.*); other servers reaching them will refuse it: add these names (or *.${config.domain}) to the certificate`);
  }
  return { errors, warnings };
}

function names(cert: X509Certificate): string {
  const san = cert.subjectAltName?.split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
  return san && san.length > 0 ? san.join(', ') : cert.subject.replace(/\n/g, ', ');
}
