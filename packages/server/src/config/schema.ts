// The server configuration: one zod schema, every key with a default and a description (the config reference and
// parley.example.yml follow it). Objects are strict so a misspelt key is an error, never silently ignored.
// Values derived from other keys (storage.path, services.*) are filled in by the final transform, after the file and
// the command-line overrides have been merged, so `conference.<domain>` follows a domain given on the command line.
import { isIP } from 'node:net';
import { join } from 'node:path';
import { domainToASCII } from 'node:url';
import { z } from 'zod';
import { Jid, normalizeDomain } from '@parley/protocol';
import { DEFAULT_TLS_CIPHERS, cipherListProblems } from '../net/tls-options';

function intIn(min: number, max = Number.MAX_SAFE_INTEGER) {
  const error = max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}` : `expected an integer from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

// 0 asks the OS for a free port (tests, and several servers side by side in benchmarks).
const port = () => intIn(0, 65535);

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Normalises a DNS domain name (lowercase, U-labels kept as RFC 7622 §3.2.2 compares them); throws a message. */
export function checkDomainName(input: string): string {
  let domain: string;
  try {
    domain = normalizeDomain(input);
  } catch (err) {
    throw new Error('expected a domain name', { cause: err });
  }
  if (domain.startsWith('[')) throw new Error('expected a domain name, not an IP address literal');
  const ascii = domainToASCII(domain);
  if (isIP(ascii) !== 0 || isIP(domain) !== 0) throw new Error('expected a domain name, not an IP address');
  if (ascii === '' || ascii.length > 253 || !ascii.split('.').every((l) => LABEL.test(l))) {
    throw new Error('expected a domain name (letters, digits and hyphens in dot-separated labels)');
  }
  return domain;
}

const domainName = () =>
  z.string().transform((value, ctx) => {
    try {
      return checkDomainName(value);
    } catch (err) {
      ctx.issues.push({ code: 'custom', message: (err as Error).message, input: value });
      return z.NEVER;
    }
  });

const bareJid = () =>
  z.string().transform((value, ctx) => {
    const jid = Jid.tryParse(value);
    if (jid === undefined || jid.local === undefined || jid.resource !== undefined) {
      ctx.issues.push({ code: 'custom', message: 'expected a bare JID (user@domain)', input: value });
      return z.NEVER;
    }
    return jid.toString();
  });

/** Whether `value` is an IPv4/IPv6 network in CIDR notation (a bare address means a single host). */
export function isNetwork(value: string): boolean {
  const slash = value.indexOf('/');
  const addr = slash === -1 ? value : value.slice(0, slash);
  const family = isIP(addr);
  if (family === 0) return false;
  if (slash === -1) return true;
  const prefix = value.slice(slash + 1);
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

const network = () => z.string().refine(isNetwork, { error: 'expected an IP network such as 10.0.0.0/8 or fd00::/8' });

const serviceAddress = (what: string) =>
  z
    .union([domainName(), z.literal(false)], { error: 'expected a domain name, or false to disable the service' })
    .optional()
    .describe(`Address of the ${what}; false disables it. Default: ${what.split(' ')[0]}.<domain>`);

// Nested groups use prefault({}) so an absent group is parsed from {} and gets each key's default.
const log = z
  .strictObject({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info').describe('Minimum level written to the log'),
  })
  .prefault({})
  .describe('Logging');

const control = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Listen on a local control socket, so `parley admin|user|status` act on the running server'),
    socket: z
      .string()
      .min(1)
      .max(103, { error: 'a Unix socket path must be at most 103 bytes long' })
      .optional()
      .describe('Control socket path (created 0600; keep it in a directory only the server user can enter). Default: <data_dir>/parley.sock'),
  })
  .prefault({})
  .describe('Control channel for the parley command');

const storage = z
  .strictObject({
    backend: z
      .enum(['sqlite', 'postgres', 'memory'])
      .default('sqlite')
      .describe('Where accounts, rosters and archives are stored: sqlite (one machine), postgres (shared by the nodes of a cluster), or memory (lost on restart)'),
    path: z.string().min(1).optional().describe('SQLite database file. Default: <data_dir>/parley.sqlite'),
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, { error: 'expected a postgres://user:password@host:port/database URL' })
      .optional()
      .describe('PostgreSQL connection URL (postgres://user:password@host:port/database); required for the postgres backend'),
    pool_size: intIn(1, 1000).default(10).describe('PostgreSQL connections per pool (a second pool of this size serves roster and offline transactions)'),
  })
  .prefault({})
  .describe('Storage backend');

const tls = z
  .strictObject({
    cert: z.string().min(1).optional().describe('PEM certificate (chain) file; when absent a self-signed certificate is generated in <data_dir>/certs'),
    key: z.string().min(1).optional().describe('PEM private key file for tls.cert'),
    min_version: z
      .enum(['TLSv1.2', 'TLSv1.3'])
      .default('TLSv1.2')
      .describe('Oldest TLS version accepted (RFC 9325 §3.1: TLS 1.2 or later); TLS 1.3 is used whenever the client has it'),
    ciphers: z
      .string()
      .min(1)
      .default(DEFAULT_TLS_CIPHERS)
      .describe('OpenSSL cipher list, colon-separated; TLS_* names are TLS 1.3 suites. Default: Mozilla intermediate (ECDHE with AEAD only for TLS 1.2)'),
  })
  .prefault({})
  .describe('TLS certificate and parameters');

const c2s = z
  .strictObject({
    port: port().default(5222).describe('Client connections with STARTTLS (RFC 6120 §5)'),
    tls_port: port().default(5223).describe('Client connections with direct TLS (XEP-0368)'),
    bind: z.string().min(1).default('::').describe("Address to listen on; '::' accepts IPv6 and IPv4 on dual-stack hosts"),
    require_tls: z.boolean().default(true).describe('Refuse to go past stream features without TLS (RFC 6120 §5.3.1 mandatory-to-negotiate)'),
    allow_plaintext_auth: z
      .boolean()
      .default(false)
      .describe('Allow SASL PLAIN on unencrypted streams: passwords cross the network in clear (tests and benchmarks only)'),
    max_stanza_size: intIn(10000)
      .default(262144)
      .describe('Largest stanza accepted, in bytes; larger ones close the stream with policy-violation (RFC 6120 §13.12: at least 10000)'),
    max_connections: intIn(1).default(10000).describe('Simultaneous client connections, all addresses together'),
    max_connections_per_ip: intIn(1).default(100).describe('Simultaneous client connections from one IP address'),
    // 1 MiB: four stanzas of the default max_stanza_size, on top of what the kernel's socket buffer already holds
    // (Linux grows it to 4 MiB). A client that reads never comes near it; one that stops reading costs at most this.
    max_send_buffer: intIn(65536)
      .default(1048576)
      .describe(
        'Bytes waiting to be sent to one client past which it is taken for one that stopped reading: the stream ends with connection-timeout (RFC 6120 §4.9.3.4) and its session goes on as after a lost connection (XEP-0198)',
      ),
    tls_handshake_timeout_s: intIn(1, 300)
      .default(10)
      .describe('Seconds a client has to finish a TLS handshake (direct TLS, or after STARTTLS) before the connection is dropped'),
    idle_timeout_s: intIn(0).default(300).describe('Close a connection that sent nothing for this many seconds; 0 disables'),
    whitespace_ping_s: intIn(0)
      .default(60)
      .describe('Send a whitespace keepalive after this many idle seconds (RFC 6120 §4.6.1); 0 disables'),
    auth_attempts_per_minute: intIn(1).default(10).describe('SASL attempts allowed per IP address per minute'),
    auth_failures_before_disconnect: intIn(1).default(3).describe('Failed SASL attempts on one connection before it is closed'),
  })
  .prefault({})
  .describe('Client-to-server listeners');

const s2s = z
  .strictObject({
    port: port().default(5269).describe('Server-to-server connections (RFC 6120)'),
    bind: z.string().min(1).default('::').describe("Address the server-to-server listener binds to; '::' accepts IPv6 and IPv4 on dual-stack hosts"),
    direct_tls_port: port()
      .optional()
      .describe("Server-to-server connections with TLS from the first byte (XEP-0368, ALPN 'xmpp-server'), announced by _xmpps-server._tcp SRV records; absent: none (5270 is the usual choice)"),
    enabled: z.boolean().default(true).describe('Federate with other XMPP servers (RFC 6120 server-to-server streams)'),
    auth: z
      .enum(['any', 'external'])
      .default('any')
      .describe("How servers authenticate: 'any' uses SASL EXTERNAL when the certificate validates, else server dialback (XEP-0220); 'external' only SASL EXTERNAL (dialback off)"),
    require_valid_certificates: z
      .boolean()
      .default(false)
      .describe('Refuse peers whose certificate does not validate (RFC 6125) instead of authenticating them by dialback'),
    ca_file: z.string().min(1).optional().describe("A PEM file of extra certificate authorities trusted for peers' certificates, besides the system's"),
    allow: z.array(domainName()).default([]).describe('Only federate with these domains; empty: every domain not denied'),
    deny: z.array(domainName()).default([]).describe('Never federate with these domains'),
    max_connections: intIn(1).default(1000).describe('Simultaneous server-to-server connections, incoming and outgoing together'),
    max_queued_stanzas: intIn(1).default(1000).describe('Stanzas waiting per remote domain while its stream is set up; past it they bounce with resource-constraint'),
    max_queued_bytes: intIn(65536)
      .default(2097152)
      .describe('Bytes of stanzas waiting per remote domain while its stream is set up; past it they bounce with resource-constraint'),
    max_stanza_size: intIn(10000).default(262144).describe('Largest stanza accepted from another server, in bytes; larger ones close its stream'),
    connect_timeout_s: intIn(1, 300).default(15).describe('Seconds to connect to, secure and authenticate with a remote server before queued stanzas bounce with remote-server-timeout'),
    idle_timeout_s: intIn(0).default(600).describe('Close a server-to-server stream that carried nothing for this many seconds; 0 disables'),
    whitespace_ping_s: intIn(0)
      .default(60)
      .describe('Send a whitespace keepalive on a server-to-server stream idle for this many seconds (RFC 6120 §4.6.1), so a dead peer is noticed; 0 disables'),
    write_timeout_s: intIn(0)
      .default(60)
      .describe('A server-to-server connection whose written data the peer has not taken for this many seconds is taken for dead and closed (the next stanza opens a new one); 0 disables'),
    max_bytes_per_second: intIn(0)
      .default(262144)
      .describe('Bytes per second read from one remote domain (all its incoming streams together); past it reading pauses (backpressure, nothing is dropped); 0: no limit'),
    max_send_buffer: intIn(65536)
      .default(4194304)
      .describe('Bytes waiting for a remote server that does not read, past which its stream is closed (connection-timeout) and rebuilt at the next stanza'),
    dns_timeout_s: intIn(1, 60).default(3).describe('Seconds to wait for a DNS answer (SRV, A/AAAA) before trying the next server or failing over'),
    dns_servers: z
      .array(z.string().min(1))
      .default([])
      .describe("DNS servers (address or address:port) for finding remote servers; empty: the system's"),
    static_routes: z
      .record(domainName(), z.string().regex(/^(tls:)?(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/, 'host:port, e.g. 127.0.0.1:5269 or [::1]:5269, or tls:host:port for direct TLS'))
      .default({})
      .describe("Testing and operations aid: remote domains reached at a fixed host:port instead of through DNS; 'tls:host:port' connects with direct TLS (XEP-0368)"),
    dialback_secret: z
      .string()
      .min(16)
      .optional()
      .describe('Secret the dialback keys (XEP-0185) are derived from; default: random at each start (set one shared by all nodes of a cluster)'),
  })
  .prefault({})
  .describe('Server-to-server (federation)');

const http = z
  .strictObject({
    port: port().default(5280).describe('Plain HTTP listener: WebSocket (RFC 7395), host-meta (XEP-0156), BOSH (XEP-0206), and later upload, the web app'),
    tls_port: port().default(5281).describe('HTTPS listener with the same routes, and the certificate of tls.cert (as c2s)'),
    bind: z.string().min(1).default('::').describe("Address to listen on; '::' accepts IPv6 and IPv4 on dual-stack hosts"),
  })
  .prefault({})
  .describe('HTTP listener');

const metrics = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve Prometheus metrics at /metrics on the HTTP listeners'),
    token: z
      .string()
      .min(16, 'at least 16 characters')
      .optional()
      .describe('Bearer token a scraper from another address must send (Authorization: Bearer …); without it, only loopback may scrape'),
  })
  .prefault({});

const websocket = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve XMPP over WebSocket (RFC 7395) at /xmpp-websocket on the HTTP listeners'),
    allowed_origins: z
      .array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, "an origin such as https://chat.example.org, or '*'"))
      .default([])
      .describe("Origins (scheme://host[:port]) of web pages allowed to connect, '*' for any; empty: only pages from the host the client connected to"),
    see_other_uri: z
      .string()
      .regex(/^wss?:\/\/\S+$/, 'a ws:// or wss:// URL')
      .optional()
      .describe('Redirect every WebSocket client to this URL (RFC 7395 §3.6.1 see-other-uri), e.g. during maintenance'),
    loopback_is_secure: z
      .boolean()
      .default(true)
      .describe(
        'Treat WebSocket connections from loopback that no proxy forwarded (no Forwarded/X-Forwarded-For header) as secure, so the chat app on http://localhost can log in and keep a FAST token without TLS; the bytes never leave the machine (W3C Secure Contexts §3.2)',
      ),
    max_send_buffer: intIn(65536)
      .default(1048576)
      .describe('Bytes queued for a WebSocket client that does not read before its connection is dropped (it may resume, XEP-0198)'),
  })
  .prefault({})
  .describe('XMPP over WebSocket (RFC 7395)');

const bosh = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve XMPP over BOSH (XEP-0124, XEP-0206) at /http-bind on the HTTP listeners'),
    allowed_origins: z
      .array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, "an origin such as https://chat.example.org, or '*'"))
      .default([])
      .describe("Origins (scheme://host[:port]) of web pages allowed to use BOSH (CORS), '*' for any; empty: only pages from the host the client connected to"),
    loopback_is_secure: z
      .boolean()
      .default(true)
      .describe(
        'Treat a BOSH session created from loopback with no Forwarded/X-Forwarded-For header as secure, as websocket.loopback_is_secure does: the chat app falls back to BOSH where a WebSocket cannot connect and must log in the same way',
      ),
    max_wait_s: intIn(1, 300).default(60).describe("Longest a request is held waiting for data (XEP-0124 'wait'): the client's value, at most this"),
    max_hold: intIn(0, 4).default(1).describe("Requests a session may have held at once (XEP-0124 'hold'): the client's value, at most this"),
    inactivity_s: intIn(2, 600).default(60).describe("Seconds a session may have no request waiting before it ends (XEP-0124 'inactivity')"),
    max_pause_s: intIn(0, 3600).default(120).describe('Longest a client may pause its session (XEP-0124 §10 maxpause); 0 refuses pauses'),
    polling_s: intIn(0, 60).default(2).describe("Shortest interval between empty requests of a polling session (hold 0; XEP-0124 'polling')"),
    max_pending_stanzas: intIn(16)
      .default(1000)
      .describe('Stanzas kept for a session with no request to answer before it is dropped (it may resume, XEP-0198)'),
  })
  .prefault({})
  .describe('XMPP over BOSH (XEP-0124, XEP-0206)');

const registration = z
  .strictObject({
    mode: z.enum(['open', 'closed']).default('closed').describe('open: anyone may create an account in-band (XEP-0077); closed: admins only'),
    per_ip_per_hour: intIn(1).default(5).describe('Accounts one IP address may register per hour'),
  })
  .prefault({})
  .describe('Account registration');

const rateLimit = z
  .strictObject({
    exempt_networks: z
      .array(network())
      .default(['127.0.0.0/8', '::1/128'])
      .describe('Networks exempt from connection and authentication rate limits'),
    ipv6_prefix_length: intIn(32, 128)
      .default(64)
      .describe('IPv6 addresses sharing this prefix count as one address for every per-IP limit (a subscriber holds a /64)'),
  })
  .prefault({})
  .describe('Rate limiting');

const services = z
  .strictObject({
    conference: serviceAddress('conference service (XEP-0045 multi-user chat)'),
    pubsub: serviceAddress('pubsub service (XEP-0060)'),
    upload: serviceAddress('upload service (XEP-0363 HTTP file upload)'),
    proxy: serviceAddress('proxy service (XEP-0065 SOCKS5 bytestreams)'),
  })
  .prefault({})
  .describe('Service sub-domains');

const auth = z
  .strictObject({
    scram_iterations: intIn(4096, 10_000_000)
      .default(600_000)
      .describe(
        'PBKDF2 iterations for SCRAM keys (RFC 7677 §4: at least 4096; OWASP: 600,000). Older keys with fewer are re-derived at the next PLAIN login or password change',
      ),
  })
  .prefault({})
  .describe('Authentication');

const offline = z
  .strictObject({
    max_per_user: intIn(0).default(1000).describe('Messages kept for an offline user (RFC 6121 §8.5.2.2); 0 stores none'),
    max_bytes_per_user: intIn(0)
      .default(10 * 1024 * 1024)
      .describe('Bytes of messages kept for an offline user (XEP-0160 §2: beyond it, service-unavailable); 0 stores none'),
    delivery_batch: intIn(1, 10000)
      .default(50)
      .describe('Stored messages written to the client at a time when it comes online, each batch after the previous left'),
  })
  .prefault({})
  .describe('Offline message storage');

const modules = z
  .strictObject({
    disabled: z.array(z.string().min(1)).default([]).describe('Names of modules not to load'),
    options: z
      .record(z.string(), z.record(z.string(), z.unknown()))
      .default({})
      .describe('Per-module options, keyed by module name; each module validates its own'),
  })
  .prefault({})
  .describe('Modules');

const components = z
  .strictObject({
    port: port().default(5347).describe('External components (XEP-0114) connect here; listened on only when components.list is not empty'),
    bind: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('Address of the component listener; loopback by default, since XEP-0114 streams are not encrypted'),
    list: z
      .array(
        z.strictObject({
          domain: domainName().describe("The component's domain: every stanza to it, or to a JID at it, goes to the component"),
          // Never logged; the handshake proves knowledge of it without sending it (XEP-0114 §3).
          secret: z.string().min(1, { error: 'expected a non-empty shared secret' }).describe('The shared secret of the handshake'),
        }),
      )
      .default([])
      .describe('Configured components: [{ domain, secret }]'),
    max_stanza_size: intIn(10000)
      .default(262144)
      .describe('Largest stanza accepted from a component, in bytes; larger ones close its stream with policy-violation'),
    max_connections: intIn(1).default(100).describe('Simultaneous component connections, authenticated or not'),
    handshake_timeout_s: intIn(1).default(10).describe('Close a component connection that has not completed its handshake after this many seconds'),
    auth_attempts_per_minute: intIn(1)
      .default(10)
      .describe('Handshakes allowed per IP address per minute (rate_limit.exempt_networks are not limited)'),
  })
  .prefault({})
  .describe('External components (XEP-0114)');

const cluster = z
  .strictObject({
    backend: z.enum(['local', 'redis']).default('local').describe('local: a single node; redis: several nodes share sessions and routing'),
    redis_url: z.string().min(1).optional().describe('Redis connection URL (required with backend: redis), e.g. redis://localhost:6379'),
    redis_queue_bytes: intIn(0)
      .default(16 * 1024 * 1024)
      .describe('Bytes of cluster messages kept while Redis is unreachable or slow; past it new ones are dropped (and logged). 0 keeps none'),
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, underscore and hyphen only (1–64)')
      .optional()
      .describe('Names this cluster on the shared Redis (channel prefix), for several clusters on one Redis. Default: the domain'),
    node_id: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, underscore and hyphen only (1–64)')
      .optional()
      .describe('This node\'s name, unique in the cluster. Default: the host name'),
    nodes: z
      .array(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, underscore and hyphen only (1–64)'))
      .default([])
      .describe('Names of every node serving the domain (services such as MUC rooms are placed among those that are live). Default: this node alone'),
    workers: z
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe('Worker processes `parley start` runs behind the same listeners (node:cluster), each a node of the cluster; more than 1 needs backend: redis'),
  })
  .prefault({})
  .describe('Clustering');

/** The configuration as written (file + overrides), before derived values are filled in. */
export const configObjectSchema = z
  .strictObject({
    domain: domainName().default('localhost').describe('The XMPP domain served; accounts are user@domain'),
    data_dir: z.string().min(1).default('./data').describe('Directory for the SQLite database and generated certificates'),
    log,
    control,
    storage,
    tls,
    c2s,
    s2s,
    http,
    websocket,
    metrics,
    bosh,
    registration,
    auth,
    rate_limit: rateLimit,
    admins: z.array(bareJid()).default([]).describe('Bare JIDs of server administrators'),
    services,
    offline,
    modules,
    components,
    cluster,
  })
  .superRefine((c, ctx) => {
    if ((c.tls.cert === undefined) !== (c.tls.key === undefined)) {
      const missing = c.tls.cert === undefined ? 'cert' : 'key';
      ctx.addIssue({ code: 'custom', path: ['tls', missing], message: 'tls.cert and tls.key must be given together' });
    }
    for (const message of cipherListProblems(c.tls.ciphers, c.tls.min_version)) {
      ctx.addIssue({ code: 'custom', path: ['tls', 'ciphers'], message });
    }
    if (c.cluster.backend === 'redis' && c.cluster.redis_url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['cluster', 'redis_url'], message: "required when cluster.backend is 'redis'" });
    }
    if (c.cluster.workers > 1 && c.cluster.backend !== 'redis') {
      ctx.addIssue({ code: 'custom', path: ['cluster', 'workers'], message: "more than one worker needs cluster.backend: redis (the workers share sessions over it)" });
    }
    if (c.storage.backend === 'postgres' && c.storage.url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['storage', 'url'], message: "required when storage.backend is 'postgres'" });
    }
    if (c.cluster.backend === 'redis' && c.storage.backend === 'memory') {
      ctx.addIssue({ code: 'custom', path: ['storage', 'backend'], message: 'the nodes of a cluster share their storage: memory storage cannot be shared' });
    }
    const listeners: [string, number][] = [
      ['c2s.port', c.c2s.port],
      ['c2s.tls_port', c.c2s.tls_port],
      ['http.port', c.http.port],
      ['http.tls_port', c.http.tls_port],
    ];
    if (c.s2s.enabled) listeners.push(['s2s.port', c.s2s.port]);
    if (c.s2s.enabled && c.s2s.direct_tls_port !== undefined) listeners.push(['s2s.direct_tls_port', c.s2s.direct_tls_port]);
    if (c.components.list.length > 0) listeners.push(['components.port', c.components.port]);
    // A component's domain is its own: not the server's, not a service's, not another component's.
    const taken = new Map<string, string>([[c.domain, 'domain']]);
    for (const name of ['conference', 'pubsub', 'upload', 'proxy'] as const) {
      const value = c.services[name];
      if (value !== false) taken.set(value ?? `${name}.${c.domain}`, `services.${name}`);
    }
    c.components.list.forEach(({ domain }, i) => {
      const other = taken.get(domain);
      if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['components', 'list', i, 'domain'], message: `${domain} is already used by ${other}` });
      taken.set(domain, `components.list.${i}`);
    });
    for (let i = 1; i < listeners.length; i++) {
      const [key, value] = listeners[i]!;
      const clash = listeners.slice(0, i).find(([, other]) => other === value);
      if (clash && value !== 0) ctx.addIssue({ code: 'custom', path: key.split('.'), message: `port ${value} is also used by ${clash[0]}` });
    }
  });

/** Parses and validates a configuration and fills in the derived defaults; its output is `Config`. */
export const configSchema = configObjectSchema.transform((c) => ({
  ...c,
  storage: { ...c.storage, path: c.storage.path ?? join(c.data_dir, 'parley.sqlite') },
  control: { ...c.control, socket: c.control.socket ?? join(c.data_dir, 'parley.sock') },
  services: {
    conference: c.services.conference ?? `conference.${c.domain}`,
    pubsub: c.services.pubsub ?? `pubsub.${c.domain}`,
    upload: c.services.upload ?? `upload.${c.domain}`,
    proxy: c.services.proxy ?? `proxy.${c.domain}`,
  },
}));

export type Config = z.output<typeof configSchema>;

/** Everything optional, recursively: the shape of command-line overrides. Arrays are replaced, not merged. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

export interface ConfigKey {
  /** Dotted path, e.g. `c2s.port`. */
  path: string;
  description: string | undefined;
  /** The static default; undefined for optional keys and for defaults derived from other keys. */
  default: unknown;
}

/** Every leaf key of the schema in declaration order, for generated documentation and tests. */
export function configKeys(): ConfigKey[] {
  const out: ConfigKey[] = [];
  const walk = (shape: Record<string, z.ZodType>, prefix: string) => {
    for (const [name, schema] of Object.entries(shape)) {
      const path = prefix + name;
      const inner = unwrap(schema);
      if (inner instanceof z.ZodObject) walk(inner.shape as Record<string, z.ZodType>, `${path}.`);
      else out.push({ path, description: schema.description, default: defaultOf(schema) });
    }
  };
  walk(configObjectSchema.shape as Record<string, z.ZodType>, '');
  return out;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  return s;
}

function defaultOf(schema: z.ZodType): unknown {
  return schema instanceof z.ZodDefault ? structuredClone(schema.def.defaultValue) : undefined;
}
