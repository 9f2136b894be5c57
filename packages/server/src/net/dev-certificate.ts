// TLS material for the listeners: the configured PEM files, or a self-signed development certificate generated
// once in <data_dir>/certs and reused on later starts. RFC 6120 §13.7.1 wants a certificate for the domain;
// services live on sub-domains (conference.<domain>, …), so the dev certificate also covers *.<domain> (RFC 6125 §6.4.3).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { domainToASCII } from 'node:url';
import { generate, type GenerateResult } from 'selfsigned';
import { ConfigError, type Config } from '../config';
import type { Logger } from '../log';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, ensurePrivateDir, tightenIfPresent } from '../private-files';

const VALID_DAYS = 825;
/** Regenerate a dev certificate that would expire within this many days rather than fail mid-run. */
const RENEW_BEFORE_DAYS = 7;
const DAY_MS = 86_400_000;

export interface CertificatePaths {
  certPath: string;
  keyPath: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/**
 * Returns the dev certificate for `domain` under `<dataDir>/certs`, generating it when absent, unreadable, expiring,
 * or not covering the domain, `*.<domain>` and `extraNames` (service addresses outside the domain).
 */
export async function ensureDevCertificate(dataDir: string, domain: string, extraNames: string[] = [], log?: Logger): Promise<CertificatePaths> {
  const dir = join(dataDir, 'certs');
  const base = domainToASCII(domain) || domain;
  const certPath = join(dir, `${base}.crt`);
  const keyPath = join(dir, `${base}.key`);
  const names = dnsNames(domain, extraNames);

  const existing = await readPair(certPath, keyPath);
  if (existing && isUsable(existing, names)) {
    // Written 0600 in a 0700 directory; one copied or restored with looser permissions is tightened.
    ensurePrivateDir(dir, log);
    tightenIfPresent(keyPath, log);
    return { certPath, keyPath };
  }

  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const pem = await generateCertificate(names);
  // Write to temporary names and rename, so a crash never leaves a certificate without its key.
  const suffix = `.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(keyPath + suffix, pem.private, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
    await writeFile(certPath + suffix, pem.cert, { mode: 0o644, flag: 'wx' });
    await chmod(keyPath + suffix, PRIVATE_FILE_MODE); // the umask cannot loosen this, but make it explicit
    await rename(keyPath + suffix, keyPath);
    await rename(certPath + suffix, certPath);
  } finally {
    await rm(keyPath + suffix, { force: true });
    await rm(certPath + suffix, { force: true });
  }
  return { certPath, keyPath };
}

/** The certificate and key for the listeners: from tls.cert / tls.key when configured, else the dev certificate. */
export async function loadTlsMaterial(config: Pick<Config, 'domain' | 'data_dir' | 'tls' | 'services'>, log?: Logger): Promise<TlsMaterial> {
  if (config.tls.cert !== undefined && config.tls.key !== undefined) {
    const cert = await readConfigured('tls.cert', config.tls.cert);
    const key = await readConfigured('tls.key', config.tls.key);
    await warnIfOthersMayRead(config.tls.key, log);
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(cert);
    } catch (err) {
      throw new ConfigError(`tls.cert: '${config.tls.cert}' is not a PEM certificate (${(err as Error).message})`);
    }
    let privateKey;
    try {
      privateKey = createPrivateKey(key);
    } catch (err) {
      throw new ConfigError(`tls.key: '${config.tls.key}' is not an unencrypted PEM private key (${(err as Error).message})`);
    }
    if (!x509.checkPrivateKey(privateKey)) {
      throw new ConfigError(`tls.key: '${config.tls.key}' does not belong to the certificate in '${config.tls.cert}' (tls.cert)`);
    }
    return { cert, key };
  }
  if (config.tls.cert !== undefined || config.tls.key !== undefined) {
    throw new ConfigError('tls: tls.cert and tls.key must be given together');
  }
  const { certPath, keyPath } = await ensureDevCertificate(config.data_dir, config.domain, serviceNames(config), log);
  return { cert: await readFile(certPath), key: await readFile(keyPath) };
}

/** Service addresses the `*.<domain>` wildcard does not cover (a wildcard matches exactly one label). */
function serviceNames(config: Pick<Config, 'domain' | 'services'>): string[] {
  return Object.values(config.services).filter(
    (s): s is string => typeof s === 'string' && !isCoveredBy(s, config.domain),
  );
}

function isCoveredBy(name: string, domain: string): boolean {
  if (name === domain) return true;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === domain;
}

function dnsNames(domain: string, extra: string[]): string[] {
  const ascii = (d: string) => domainToASCII(d) || d;
  return [...new Set([ascii(domain), `*.${ascii(domain)}`, ...extra.map(ascii)])];
}

async function readPair(certPath: string, keyPath: string): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  try {
    return { cert: await readFile(certPath), key: await readFile(keyPath) };
  } catch {
    return undefined;
  }
}

function isUsable(pair: { cert: Buffer; key: Buffer }, names: string[]): boolean {
  try {
    const x509 = new X509Certificate(pair.cert);
    if (Date.parse(x509.validTo) - Date.now() < RENEW_BEFORE_DAYS * DAY_MS) return false;
    if (!x509.checkPrivateKey(createPrivateKey(pair.key))) return false;
    const sans = (x509.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
    return names.every((n) => sans.includes(n));
  } catch {
    return false;
  }
}

async function readConfigured(key: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ConfigError(`${key}: cannot read '${path}': ${reason}`);
  }
}

/**
 * A configured key file belongs to the administrator, and may be shared on purpose with a group (Debian's
 * ssl-cert): it is not changed, but one every local user can read is worth a warning.
 */
async function warnIfOthersMayRead(path: string, log: Logger | undefined): Promise<void> {
  if (process.platform === 'win32' || !log) return;
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o007) !== 0) {
    log.warn({ path, mode: `0${mode.toString(8)}` }, 'tls.key: the private key file is readable by every local user; chmod 600 it');
  }
}

function generateCertificate(names: string[]): Promise<GenerateResult> {
  const [commonName] = names;
  return new Promise((resolve, reject) => {
    // With a callback, selfsigned (node-forge) generates the RSA key asynchronously via node:crypto.
    generate(
      [{ name: 'commonName', value: commonName }],
      {
        keySize: 2048,
        days: VALID_DAYS,
        algorithm: 'sha256',
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) }, // type 2: dNSName
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}
