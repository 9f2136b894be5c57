// A new operator's first mistakes: a certificate path that does not exist is caught by check-config and by start
// (naming the configuration file, before any database is created); the first start says where things are.
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/parley.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'parley-chk-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function parley(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 }, (error, out, err) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out, err });
    });
  });
}

it('check-config and start refuse a missing certificate, naming the file, before creating the database', async () => {
  const data = join(dir, 'data');
  writeFileSync(join(dir, 'missing-cert.yml'), `data_dir: ${data}\ntls:\n  cert: /nonexistent/fullchain.pem\n  key: /nonexistent/privkey.pem\n`);
  const check = await parley(['check-config', '--config', 'missing-cert.yml']);
  assert.equal(check.code, 2);
  assert.match(check.err, /^parley: missing-cert\.yml: tls\.cert: '\/nonexistent\/fullchain\.pem' does not exist; /m);
  assert.match(check.err, /^missing-cert\.yml: tls\.key: '\/nonexistent\/privkey\.pem' does not exist; /m);
  assert.doesNotMatch(check.out, /configuration OK/);

  const start = await parley(['start', '--config', 'missing-cert.yml', '--c2s-port', '0', '--c2s-tls-port', '0', '--s2s-port', '0']);
  assert.equal(start.code, 2);
  assert.match(start.err, /^parley: missing-cert\.yml: tls\.cert: /m);
  assert.equal(existsSync(join(data, 'parley.sqlite')), false, 'no database created by a start that failed');
});
