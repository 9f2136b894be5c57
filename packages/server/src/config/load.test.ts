import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, configKeys, loadConfig, type Config } from './index';
import { DEFAULT_TLS_CIPHERS } from '../net/tls-options';

const dir = mkdtempSync(join(tmpdir(), 'parley-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function writeYaml(text: string): string {
  const file = join(dir, `parley-${n++}.yml`);
  writeFileSync(file, text);
  return file;
}

/** Runs loadConfig expecting a ConfigError and returns its message. */
function errorOf(opts: Parameters<typeof loadConfig>[0]): string {
  try {
    loadConfig(opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected loadConfig to throw');
}

test('defaults with no file', () => {
  const config: Config = loadConfig({});
  assert.equal(config.domain, 'localhost');
  assert.equal(config.data_dir, './data');
  assert.equal(config.log.level, 'info');
  assert.deepEqual(config.storage, { backend: 'sqlite', path: join('./data', 'parley.sqlite'), pool_size: 10 });
  assert.deepEqual(config.tls, { min_version: 'TLSv1.2', ciphers: DEFAULT_TLS_CIPHERS });
  assert.deepEqual(config.c2s, {
    port: 5222,
    tls_port: 5223,
    bind: '::',
    require_tls: true,
    allow_plaintext_auth: false,
    max_stanza_size: 262144,
    max_connections: 10000,
    max_connections_per_ip: 100,
    max_send_buffer: 1048576,
    tls_handshake_timeout_s: 10,
    idle_timeout_s: 300,
    whitespace_ping_s: 60,
    auth_attempts_per_minute: 10,
    auth_failures_before_disconnect: 3,
  });
  assert.deepEqual(config.s2s, {
    port: 5269,
    bind: '::',
    enabled: true,
    auth: 'any',
    require_valid_certificates: false,
    allow: [],
    deny: [],
    max_connections: 1000,
    max_queued_stanzas: 1000,
    max_queued_bytes: 2097152,
    max_stanza_size: 262144,
    connect_timeout_s: 15,
    idle_timeout_s: 600,
    whitespace_ping_s: 60,
    write_timeout_s: 60,
    max_bytes_per_second: 262144,
    max_send_buffer: 4194304,
    dns_timeout_s: 3,
    dns_servers: [],
    static_routes: {},
  });
  assert.deepEqual(config.http, { port: 5280, tls_port: 5281, bind: '::' });
  assert.deepEqual(config.websocket, { enabled: true, allowed_origins: [], loopback_is_secure: true, max_send_buffer: 1048576 });
  assert.deepEqual(config.registration, { mode: 'closed', per_ip_per_hour: 5 });
  assert.deepEqual(config.rate_limit, { exempt_networks: ['127.0.0.0/8', '::1/128'], ipv6_prefix_length: 64 });
  assert.equal(config.auth.scram_iterations, 600_000);
  assert.deepEqual(config.admins, []);
  assert.deepEqual(config.services, {
    conference: 'conference.localhost',
    pubsub: 'pubsub.localhost',
    upload: 'upload.localhost',
    proxy: 'proxy.localhost',
  });
  assert.deepEqual(config.offline, { max_per_user: 1000, max_bytes_per_user: 10 * 1024 * 1024, delivery_batch: 50 });
  assert.deepEqual(config.modules, { disabled: [], options: {} });
  assert.deepEqual(config.cluster, { backend: 'local', redis_queue_bytes: 16 * 1024 * 1024, nodes: [], workers: 1 });
});

test('defaults are not shared between loads', () => {
  const a = loadConfig({});
  a.rate_limit.exempt_networks.push('10.0.0.0/8');
  a.modules.disabled.push('ping');
  const b = loadConfig({});
  assert.deepEqual(b.rate_limit.exempt_networks, ['127.0.0.0/8', '::1/128']);
  assert.deepEqual(b.modules.disabled, []);
});

test('an empty file or a comments-only group means defaults', () => {
  assert.deepEqual(loadConfig({ file: writeYaml('') }), loadConfig({}));
  assert.deepEqual(loadConfig({ file: writeYaml('# nothing\ntls:\n  # cert: x\n') }), loadConfig({}));
});

test('file values, then overrides over them; derived values follow the merged result', () => {
  const file = writeYaml(`
domain: Example.ORG
data_dir: /var/lib/parley
c2s:
  port: 15222
  require_tls: false
services:
  pubsub: false
  upload: files.example.net
admins: [Admin@example.org]
modules:
  options:
    mam: { default_policy: roster }
`);
  const fromFile = loadConfig({ file });
  assert.equal(fromFile.domain, 'example.org', 'the domain is normalised');
  assert.equal(fromFile.c2s.port, 15222);
  assert.equal(fromFile.c2s.tls_port, 5223, 'keys not in the file keep their defaults');
  assert.equal(fromFile.c2s.require_tls, false);
  assert.equal(fromFile.storage.path, join('/var/lib/parley', 'parley.sqlite'));
  assert.deepEqual(fromFile.services, {
    conference: 'conference.example.org',
    pubsub: false,
    upload: 'files.example.net',
    proxy: 'proxy.example.org',
  });
  assert.deepEqual(fromFile.admins, ['admin@example.org']);
  assert.deepEqual(fromFile.modules.options, { mam: { default_policy: 'roster' } });

  const merged = loadConfig({
    file,
    overrides: {
      domain: 'chat.test',
      c2s: { port: 25222, bind: undefined },
      storage: { backend: 'memory' },
      admins: ['root@chat.test'],
    },
  });
  assert.equal(merged.domain, 'chat.test');
  assert.equal(merged.c2s.port, 25222, 'overrides win');
  assert.equal(merged.c2s.require_tls, false, 'sibling keys from the file survive');
  assert.equal(merged.c2s.bind, '::', 'undefined overrides are ignored');
  assert.equal(merged.storage.backend, 'memory');
  assert.deepEqual(merged.admins, ['root@chat.test'], 'lists are replaced, not concatenated');
  assert.equal(merged.services.conference, 'conference.chat.test', 'derived after the merge');
  assert.equal(merged.services.pubsub, false);
});

test('unknown keys are errors, with a suggestion', () => {
  const file = writeYaml('c2s:\n  prot: 5222\n');
  assert.equal(errorOf({ file }), `unknown key 'c2s.prot' in ${file} (did you mean 'port'?)`);
  const top = writeYaml('domian: example.org\nzzz_qqq: 1\n');
  assert.equal(
    errorOf({ file: top }),
    `unknown key 'domian' in ${top} (did you mean 'domain'?)\nunknown key 'zzz_qqq' in ${top}`,
  );
  assert.equal(
    errorOf({ overrides: { c2s: { nope: 1 } } as never }),
    "unknown key 'c2s.nope' in command line",
  );
});

test('bad values name the file, the key and what was found', () => {
  const file = writeYaml('c2s:\n  port: abc\n');
  assert.equal(errorOf({ file }), `${file}: c2s.port: expected an integer from 0 to 65535, got "abc"`);
  assert.equal(
    errorOf({ file: writeYaml('c2s:\n  port: 70000\n') }).replace(/^.*?: /, ''),
    'c2s.port: expected an integer from 0 to 65535, got 70000',
  );
  const level = writeYaml('log: { level: verbose }\n');
  assert.equal(errorOf({ file: level }), `${level}: log.level: expected one of "trace", "debug", "info", "warn", "error", got "verbose"`);
  const several = writeYaml('domain: "not a domain"\nadmins: [example.org]\nrate_limit: { exempt_networks: [10.0.0.0/33] }\n');
  const lines = errorOf({ file: several }).split('\n').sort();
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, new RegExp(`^${escape(several)}: admins\\.0: expected a bare JID \\(user@domain\\), got "example.org"$`));
  assert.match(lines[1]!, new RegExp(`^${escape(several)}: domain: expected a domain name, got "not a domain"$`));
  assert.equal(
    lines[2],
    `${several}: rate_limit.exempt_networks.0: expected an IP network such as 10.0.0.0/8 or fd00::/8, got "10.0.0.0/33"`,
  );
  assert.match(errorOf({ file: writeYaml('domain: 192.168.1.1\n') }), /domain: expected a domain name, not an IP address/);
  assert.match(errorOf({ file: writeYaml('c2s: 5222\n') }), /: c2s: expected a mapping, got 5222$/);
  assert.match(errorOf({ file: writeYaml('c2s:\n  port:\n') }), /c2s\.port: expected an integer from 0 to 65535, got null/);
  assert.match(errorOf({ file: writeYaml('- a\n') }), /expected a mapping of keys at the top level, got a list$/);
});

test('values from overrides are blamed on the command line', () => {
  const file = writeYaml('c2s:\n  port: 5222\n');
  assert.equal(
    errorOf({ file, overrides: { c2s: { tls_port: -1 } } }),
    'command line: c2s.tls_port: expected an integer from 0 to 65535, got -1',
  );
});

test('rules across keys', () => {
  assert.match(errorOf({ overrides: { cluster: { backend: 'redis' } } }), /cluster\.redis_url: required when cluster\.backend is 'redis'/);
  assert.match(errorOf({ overrides: { tls: { cert: 'a.pem' } } }), /tls\.key: tls\.cert and tls\.key must be given together/);
  assert.match(errorOf({ overrides: { http: { port: 5222 } } }), /http\.port: port 5222 is also used by c2s\.port/);
  assert.match(errorOf({ overrides: { storage: { backend: 'postgres' } } }), /storage\.url: required when storage\.backend is 'postgres'/);
  assert.match(errorOf({ overrides: { storage: { backend: 'postgres', url: 'mysql://x' } } }), /storage\.url: expected a postgres:\/\/user:password@host:port\/database URL/);
  assert.equal(loadConfig({ overrides: { storage: { backend: 'postgres', url: 'postgres://p@127.0.0.1/test' } } }).storage.url, 'postgres://p@127.0.0.1/test');
  assert.match(errorOf({ overrides: { s2s: { port: 5222 } } }), /s2s\.port: port 5222 is also used by c2s\.port/);
  assert.equal(loadConfig({ overrides: { s2s: { port: 5222, enabled: false } } }).s2s.port, 5222, 'disabled s2s does not clash');
  assert.match(errorOf({ overrides: { s2s: { static_routes: { 'b.test': 'nowhere' } } } }), /s2s\.static_routes\.b\.test: host:port/);
  assert.match(errorOf({ overrides: { s2s: { auth: 'dialback' as never } } }), /s2s\.auth/);
});

test('invalid YAML names the file and line', () => {
  const file = writeYaml('domain: example.org\nc2s:\n  port: 5222\n bind: "::"\n');
  assert.match(errorOf({ file }), new RegExp(`^${escape(file)}: line 4, column \\d+: invalid YAML: `));
  const dup = writeYaml('domain: a.example\ndomain: b.example\n');
  assert.match(errorOf({ file: dup }), new RegExp(`^${escape(dup)}: line 2, column 1: invalid YAML: Map keys must be unique`));
});

test('a missing file given explicitly is an error', () => {
  const file = join(dir, 'absent.yml');
  assert.equal(errorOf({ file }), `${file}: configuration file not found`);
  assert.equal(errorOf({ file: dir }), `${dir}: expected a configuration file, found a directory`);
});

test('every key has a description', () => {
  for (const key of configKeys()) assert.ok(key.description, `${key.path} has no description`);
});

test('parley.example.yml lists every key and loads to the defaults', () => {
  const example = fileURLToPath(new URL('../../../../parley.example.yml', import.meta.url));
  const text = readFileSync(example, 'utf8');
  for (const key of configKeys()) {
    const leaf = key.path.split('.').at(-1)!;
    assert.match(text, new RegExp(`^\\s*(# )?${leaf}:`, 'm'), `${key.path} is missing from parley.example.yml`);
  }
  assert.deepEqual(loadConfig({ file: example }), loadConfig({}));
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('WebSocket origins and see-other-uri are checked, and the HTTPS port may not clash', () => {
  assert.match(errorOf({ overrides: { websocket: { allowed_origins: ['example.org'] } } as never }), /websocket\.allowed_origins\.0.*https:\/\/chat\.example\.org/);
  assert.match(errorOf({ overrides: { websocket: { see_other_uri: 'http://elsewhere' } } as never }), /websocket\.see_other_uri.*ws:\/\//);
  assert.match(errorOf({ overrides: { http: { port: 5290, tls_port: 5290 } } as never }), /http\.tls_port.*also used by http\.port/);
  const ok = loadConfig({ overrides: { websocket: { allowed_origins: ['*', 'https://chat.example.org:8443'], see_other_uri: 'wss://xmpp2.example.org/xmpp-websocket' } } as never });
  assert.deepEqual(ok.websocket.allowed_origins, ['*', 'https://chat.example.org:8443']);
});
