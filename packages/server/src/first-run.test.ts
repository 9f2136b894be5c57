// The first start tells a new operator where the data and certificate are and how to add a user; a data
// directory holding accounts of another domain is named with what to do.
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from './config';
import { createLogger } from './log';
import { startServer } from './main';

const dir = mkdtempSync(join(tmpdir(), 'parley-first-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function start(domain: string) {
  const lines: { level: string; event?: string; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as never);
      done();
    },
  });
  const config = loadConfig({ overrides: { domain, data_dir: dir, c2s: { port: 0, tls_port: 0, bind: '127.0.0.1' }, http: { port: 0, tls_port: 0, bind: '127.0.0.1' }, s2s: { port: 0, bind: '127.0.0.1' } } as never });
  const running = await startServer(config, createLogger('info', 'parley', { format: 'json', destination: sink }));
  return { running, lines };
}

it('guides the first run, and warns about accounts of another domain in the data directory', async () => {
  const first = await start('example.org');
  const guide = first.lines.find((l) => l.event === 'first-run');
  assert.ok(guide, 'a first-run message');
  assert.match(guide.msg, new RegExp(`data: +${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(database .*parley\\.sqlite\\)`));
  assert.match(guide.msg, /certificate: .*certs\/example\.org\.crt \(self-signed, generated/);
  assert.match(guide.msg, /add a user: +npx parley user add alice --domain example\.org/);
  assert.match(guide.msg, /connect: +any XMPP client as alice@example\.org, port \d+ \(STARTTLS\) or \d+ \(direct TLS\)/);
  await first.running.server.accounts.create('alice', 'pw');
  await first.running.stop();

  const again = await start('example.org');
  assert.equal(again.lines.find((l) => l.event === 'first-run'), undefined, 'no guide once accounts exist');
  assert.equal(again.lines.find((l) => l.event === 'other-domain-accounts'), undefined);
  await again.running.stop();

  const other = await start('other.net');
  const warning = other.lines.find((l) => l.event === 'other-domain-accounts');
  assert.equal(warning?.level, 'warn');
  assert.match(warning!.msg, /also holds accounts of other domains \(1 on example\.org\); this server serves other\.net only, .*start with --domain example\.org/);
  await other.running.stop();
});
