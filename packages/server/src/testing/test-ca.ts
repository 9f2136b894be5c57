// A throw-away certificate authority for tests of certificate validation (SASL EXTERNAL between servers, RFC 6125 /
// XEP-0178): made with the openssl command in a temporary directory, removed by the caller.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  caFile: string;
  /**
   * A certificate signed by this CA: paths of the PEM certificate and key. By default it names `domain` and `*.domain`
   * as DNS-IDs; `names` replaces that subjectAltName with other identifiers ('xmpp:a.test' an id-on-xmppAddr,
   * 'srv:_xmpp-server.a.test' an SRV-ID, 'dns:*.a.test' a DNS-ID; none at all: the subject CN alone), `cn` the CN.
   */
  issue(domain: string, options?: { names?: string[]; cn?: string; file?: string }): { cert: string; key: string };
  remove(): void;
}

/** Whether the openssl command is there (tests that need it skip, saying so, without it). */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function createTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'parley-ca-'));
  const caFile = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=Parley Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
  return {
    dir,
    caFile,
    issue(domain, options = {}) {
      const base = join(dir, options.file ?? domain);
      const key = `${base}.key`;
      const csr = `${base}.csr`;
      const cert = `${base}.crt`;
      const ext = `${base}.ext`;
      writeFileSync(ext, subjectAltName(options.names ?? [`dns:${domain}`, `dns:*.${domain}`]));
      execFileSync('openssl', ['req', ...ec, '-keyout', key, '-out', csr, '-subj', `/CN=${options.cn ?? domain}`], { stdio: 'ignore' });
      execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext], { stdio: 'ignore' });
      return { cert, key };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// openssl's extension syntax for the identifiers of RFC 6120 §13.7.1.2: otherName id-on-xmppAddr (UTF8String) and
// id-on-dnsSRV (IA5String, RFC 4985), and dNSName.
function subjectAltName(names: string[]): string {
  if (names.length === 0) return '';
  const entries = names.map((n) => {
    const [kind, value] = [n.slice(0, n.indexOf(':')), n.slice(n.indexOf(':') + 1)];
    if (kind === 'xmpp') return `otherName:1.3.6.1.5.5.7.8.5;UTF8:${value}`;
    if (kind === 'srv') return `otherName:1.3.6.1.5.5.7.8.7;IA5STRING:${value}`;
    return `DNS:${value}`;
  });
  return `subjectAltName=${entries.join(',')}\n`;
}
