// A throw-away certificate authority for tests of certificate validation (SASL EXTERNAL between servers, RFC 6125 /
// XEP-0178): made with the openssl command in a temporary directory, removed by the caller.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  caFile: string;
  /** A certificate for `domain` and `*.domain` signed by this CA: paths of the PEM certificate and key. */
  issue(domain: string): { cert: string; key: string };
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
    issue(domain) {
      const key = join(dir, `${domain}.key`);
      const csr = join(dir, `${domain}.csr`);
      const cert = join(dir, `${domain}.crt`);
      const ext = join(dir, `${domain}.ext`);
      writeFileSync(ext, `subjectAltName=DNS:${domain},DNS:*.${domain}\n`);
      execFileSync('openssl', ['req', ...ec, '-keyout', key, '-out', csr, '-subj', `/CN=${domain}`], { stdio: 'ignore' });
      execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext], { stdio: 'ignore' });
      return { cert, key };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
