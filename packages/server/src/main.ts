// Composition root: config → storage → core → modules → listeners.
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates } from 'node:tls';
import { ConfigError } from './config';
import { ClusterNode } from './cluster/node';
import { mountHealth } from './core/health';
import { RedisBus } from './cluster/redis-bus';
import type { Config } from './config';
import { createLogger, setLogLevel, type Logger } from './log';
import { openStorage } from './storage';
import { ensurePrivateDir } from './private-files';
import { ParleyServer } from './core/server';
import { discoverModules } from './core/module-loader';
import { loadTlsMaterial } from './net/dev-certificate';
import { tlsServerOptions } from './net/tls-options';
import { startC2sListeners, type C2sConnectionInfo, type C2sListenerOptions, type RunningListener } from './net/c2s-listener';
import { ClientStreams, type ClientStreamLimits } from './net/client-streams';
import { startComponentListener, type RunningComponentListener } from './net/component-listener';
import { createMetrics, mountMetrics } from './metrics';
import { startHttpServer, type RunningHttpServer } from './net/http-server';
import { startS2sListener, type RunningS2sListener } from './net/s2s-listener';
import { S2sManager } from './core/s2s-manager';
import { registerWebSocketEndpoint } from './net/websocket';
import { registerBoshEndpoint } from './net/bosh';
import { join } from 'node:path';
import { createMechanisms } from './stream/sasl';
import { AddressPolicy, IpRateLimiter } from './stream/rate-limiter';
import type { C2sSettings } from './stream/c2s-settings';
import { startupNotes } from './first-run';
import { assertNotRunning, startControlServer, type ControlServer } from './control/control-server';

export interface RunningServer {
  server: ParleyServer;
  /** `component` is undefined when no component is configured (nothing listens then). */
  ports: { c2s: number; c2sTls: number | undefined; http: number; https: number; component: number | undefined; s2s: number | undefined; s2sDirectTls: number | undefined };
  /**
   * Applies a re-read configuration without dropping sessions (SIGHUP): log level, limits, registration mode,
   * certificates and admins. Returns the keys that changed but only take effect after a restart. Throws (and
   * changes nothing) when the new certificate cannot be loaded.
   */
  reload(config: Config): Promise<{ restartNeeded: string[] }>;
  /** The client connections of the TCP listeners that count toward c2s.max_connections, with what each has waiting. */
  c2sConnections(): C2sConnectionInfo[];
  stop(): Promise<void>;
}

/** Groups read once at start (listeners, storage, modules …): a change is reported, applied at the next start. */
const RESTART_KEYS = ['domain', 'data_dir', 'storage', 'control', 's2s', 'http', 'websocket', 'metrics', 'components', 'services', 'modules', 'cluster', 'auth', 'offline', 'c2s.port', 'c2s.tls_port', 'c2s.bind', 'c2s.allow_plaintext_auth', 'c2s.idle_timeout_s', 'c2s.whitespace_ping_s'] as const;

function valueAt(config: Config, key: string): unknown {
  return key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], config);
}

/** The server with its storage and modules, without listeners (the CLI's admin commands run on this). */
export async function createCore(config: Config, log: Logger, options: { cluster?: ClusterNode } = {}): Promise<ParleyServer> {
  // The data directory holds the database and the development certificate's private key: owner-only.
  ensurePrivateDir(config.data_dir, log);
  const storage = await openStorage({ ...config.storage, log, onError: (err) => log.warn({ err }, 'storage: a database connection failed; it is replaced on next use') });
  const server = new ParleyServer(config, storage, log);
  // Modules register their cache invalidations while loading: the cluster must be in place first.
  if (options.cluster) server.setCluster(options.cluster);
  try {
    for (const def of await discoverModules(config.modules.disabled)) await server.loadModule(def);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** The cluster node for a configuration with cluster.backend 'redis': connected to Redis, not started yet. */
async function connectCluster(config: Config, log: Logger): Promise<{ bus: RedisBus; nodeId: string; name: string | undefined; members: string[] } | undefined> {
  if (config.cluster.backend !== 'redis') return undefined;
  const bus = new RedisBus(config.cluster.redis_url!, log, { maxQueuedBytes: config.cluster.redis_queue_bytes });
  try {
    await bus.connect();
  } catch (err) {
    await bus.close();
    throw new ConfigError(`cluster.redis_url: cannot connect to ${config.cluster.redis_url} (${(err as Error).message})`);
  }
  const nodeId = config.cluster.node_id ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  return { bus, nodeId, name: config.cluster.name, members: config.cluster.nodes.length > 0 ? config.cluster.nodes : [nodeId] };
}

export interface StartOptions {
  /** Open the control socket (control.enabled); with several workers only the first one does. Default true. */
  control?: boolean;
  /** Log the first-run guide and the other-domain warning (first-run.ts); workers leave it to the first. Default true. */
  notes?: boolean;
  /** This process is worker `workerIndex` of `parley start --workers N` (cluster/workers.ts). */
  workerIndex?: number;
}

export async function startServer(config: Config, log: Logger = createLogger(config.log.level), options: StartOptions = {}): Promise<RunningServer> {
  const withControl = config.control.enabled && options.control !== false;
  // Before anything is created: a second server on the same data, or a certificate that cannot be read, fails the
  // start without leaving a database or a half-started cluster node behind.
  if (withControl) await assertNotRunning(config.control.socket);
  const tls = await loadTlsMaterial(config, log);
  const link = await connectCluster(config, log);
  let server: ParleyServer;
  let cluster: ClusterNode | undefined;
  try {
    server = await createCore(config, log, {
      cluster: link ? (cluster = new ClusterNode(link.bus, { nodeId: link.nodeId, name: link.name, members: link.members })) : undefined,
    });
  } catch (err) {
    await link?.bus.close();
    throw err;
  }
  if (cluster) {
    cluster.attach(server);
    await cluster.start();
  }

  // One policy (versions, cipher suites) for STARTTLS, direct TLS and HTTPS alike.
  const tlsOptions = tlsServerOptions(tls, config.tls);
  const secureContext = createSecureContext(tlsOptions);
  const allowPlaintext = config.c2s.allow_plaintext_auth;
  if (allowPlaintext) log.warn('c2s.allow_plaintext_auth is on: passwords may cross the network unencrypted (tests and benchmarks only)');
  // Every per-address limit (connections, failed logins) counts an IPv6 /64 as one address.
  const addresses = new AddressPolicy({ exemptNetworks: config.rate_limit.exempt_networks, ipv6PrefixLength: config.rate_limit.ipv6_prefix_length });
  const settings: C2sSettings = {
    requireTls: config.c2s.require_tls && !allowPlaintext,
    maxStanzaSize: config.c2s.max_stanza_size,
    maxSessions: config.c2s.max_connections,
    registrationOpen: config.registration.mode === 'open',
    mechanisms: createMechanisms({ allowInsecurePlain: allowPlaintext, scramIterations: config.auth.scram_iterations }),
    authLimiter: new IpRateLimiter(config.c2s.auth_attempts_per_minute, 60_000, addresses),
    maxAuthFailuresPerStream: config.c2s.auth_failures_before_disconnect,
  };
  // One set of limits for every client transport; a reload (SIGHUP) changes them for the connections that follow.
  const limits: ClientStreamLimits = {
    maxConnections: config.c2s.max_connections,
    maxConnectionsPerIp: config.c2s.max_connections_per_ip,
    idleTimeoutMs: config.c2s.idle_timeout_s * 1000,
    keepaliveMs: config.c2s.whitespace_ping_s * 1000,
    perIpExempt: (ip) => addresses.isExempt(ip),
    perIpKey: (ip) => addresses.keyOf(ip),
  };
  const streams = new ClientStreams(server, settings, limits);

  // RFC 7395: WebSocket clients are client streams under the same settings and limits.
  const websocket = config.websocket.enabled
    ? registerWebSocketEndpoint(server.http, streams, {
        maxStanzaSize: config.c2s.max_stanza_size,
        maxSendBuffer: config.websocket.max_send_buffer,
        seeOtherUri: config.websocket.see_other_uri,
        allowedOrigins: config.websocket.allowed_origins,
        loopbackIsSecure: config.websocket.loopback_is_secure,
      })
    : undefined;
  // XEP-0124/0206: BOSH clients too. With workers, every request of a session is served by the worker holding it.
  const workerIndex = options.workerIndex;
  const bosh = config.bosh.enabled
    ? registerBoshEndpoint(
        server.http,
        streams,
        {
          domain: config.domain,
          maxBodySize: config.c2s.max_stanza_size,
          allowedOrigins: config.bosh.allowed_origins,
          maxWaitS: config.bosh.max_wait_s,
          maxHold: config.bosh.max_hold,
          inactivityS: config.bosh.inactivity_s,
          maxPauseS: config.bosh.max_pause_s,
          pollingS: config.bosh.polling_s,
          maxPendingStanzas: config.bosh.max_pending_stanzas,
          loopbackIsSecure: config.bosh.loopback_is_secure,
          workers: workerIndex === undefined ? undefined : { index: workerIndex, socketPath: (i) => join(config.data_dir, `bosh-w${i}.sock`) },
        },
        log,
      )
    : undefined;

  // Read on every new connection, so a reload (SIGHUP) changes the certificate for the connections that follow.
  const listenerOptions: C2sListenerOptions = {
    host: config.c2s.bind,
    port: config.c2s.port,
    tlsPort: config.c2s.tls_port,
    secureContext,
    maxStanzaSize: config.c2s.max_stanza_size,
    maxSendBuffer: config.c2s.max_send_buffer,
    tlsHandshakeTimeoutMs: config.c2s.tls_handshake_timeout_s * 1000,
  };
  // Prometheus metrics at /metrics: loopback, or a scraper with metrics.token.
  const metrics = config.metrics.enabled ? createMetrics(server) : undefined;
  const metricsRoute = metrics ? mountMetrics(server.http, metrics, config.metrics.token) : undefined;
  // GET /health: 200 when storage and the cluster bus answer, 503 otherwise (core/health.ts).
  const healthRoute = mountHealth(server.http, server);
  let listener: RunningListener | undefined;
  let http: RunningHttpServer | undefined;
  let components: RunningComponentListener | undefined;
  let s2s: RunningS2sListener | undefined;
  const federation = config.s2s.enabled ? createS2sManager(server, config, tlsOptions) : undefined;
  // XEP-0185 §3: a dialback key is checked by whichever node or worker the verifying server reaches: they must
  // share the secret, else verification fails half of the time.
  if (federation && config.s2s.dialback_secret === undefined && (config.cluster.backend === 'redis' || config.cluster.workers > 1)) {
    log.warn('s2s.dialback_secret is not set: each node and worker makes its own, so dialback with other servers fails intermittently; set one shared secret');
  }
  try {
    listener = await startC2sListeners(streams, listenerOptions);
    await bosh?.listen();
    http = await startHttpServer(server.http, log, { host: config.http.bind, port: config.http.port, tlsPort: config.http.tls_port, tls: tlsOptions });
    // XEP-0114: only configured components can authenticate, so without any there is nothing to listen for.
    if (config.components.list.length > 0) {
      components = await startComponentListener(server, {
        host: config.components.bind,
        port: config.components.port,
        maxStanzaSize: config.components.max_stanza_size,
        maxConnections: config.components.max_connections,
        handshakeTimeoutMs: config.components.handshake_timeout_s * 1000,
        authLimiter: new IpRateLimiter(config.components.auth_attempts_per_minute, 60_000, addresses),
      });
    }
    if (federation) {
      s2s = await startS2sListener(federation.manager, log, {
        host: config.s2s.bind,
        port: config.s2s.port,
        directTlsPort: config.s2s.direct_tls_port,
        secureContext: federation.secureContext,
      });
      server.router.remote = federation.manager;
      server.s2s = federation.manager;
    }
  } catch (err) {
    federation?.manager.stop();
    await components?.close();
    await listener?.close();
    await http?.close();
    websocket?.close();
    await bosh?.close();
    streams.closeAll();
    await server.stop();
    await cluster?.stop();
    throw err;
  }
  let control: ControlServer | undefined;
  try {
    if (withControl) control = await startControlServer(server, config.control.socket);
  } catch (err) {
    federation?.manager.stop();
    await s2s?.close();
    await listener.close();
    await http.close();
    await components?.close();
    websocket?.close();
    streams.closeAll();
    await server.stop();
    await cluster?.stop();
    throw err;
  }
  server.runtime.start();
  const ports = { ...listener.ports, http: http.ports.http, https: http.ports.https, component: components?.port, s2s: s2s?.port, s2sDirectTls: s2s?.directTlsPort };
  if (options.notes !== false) await startupNotes(server, config, { ...listener.ports, http: http.ports.http }).catch((err: unknown) => log.warn({ err }, 'startup notes failed'));
  log.info({ domain: config.domain, node: cluster?.nodeId, ...ports, control: control?.path, modules: server.modules.length }, 'Parley started');
  const running = { listener, http, components, s2s };
  let current = config;
  return {
    server,
    ports,
    async reload(next) {
      // Certificates first: a bad new one fails the reload before anything changed.
      const nextTls = tlsServerOptions(await loadTlsMaterial(next, log), next.tls);
      listenerOptions.secureContext = createSecureContext(nextTls);
      setLogLevel(log, next.log.level);
      limits.maxConnections = next.c2s.max_connections;
      limits.maxConnectionsPerIp = next.c2s.max_connections_per_ip;
      settings.requireTls = next.c2s.require_tls && !allowPlaintext;
      settings.maxStanzaSize = next.c2s.max_stanza_size;
      settings.maxSessions = next.c2s.max_connections;
      settings.registrationOpen = next.registration.mode === 'open';
      settings.maxAuthFailuresPerStream = next.c2s.auth_failures_before_disconnect;
      if (next.c2s.auth_attempts_per_minute !== current.c2s.auth_attempts_per_minute || JSON.stringify(next.rate_limit) !== JSON.stringify(current.rate_limit)) {
        const nextAddresses = new AddressPolicy({ exemptNetworks: next.rate_limit.exempt_networks, ipv6PrefixLength: next.rate_limit.ipv6_prefix_length });
        settings.authLimiter = new IpRateLimiter(next.c2s.auth_attempts_per_minute, 60_000, nextAddresses);
        limits.perIpExempt = (ip) => nextAddresses.isExempt(ip);
        limits.perIpKey = (ip) => nextAddresses.keyOf(ip);
      }
      server.setAdmins(next.admins);
      const restartNeeded = RESTART_KEYS.filter((key) => JSON.stringify(valueAt(current, key)) !== JSON.stringify(valueAt(next, key)));
      current = next;
      return { restartNeeded };
    },
    c2sConnections: () => running.listener.connections(),
    async stop() {
      await control?.close();
      // Stop accepting, then end every stream; the listeners are closed once the last socket is gone.
      federation?.manager.stop();
      const closed = Promise.all([running.listener.close(), running.http.close(), running.components?.close(), running.s2s?.close()]);
      websocket?.close();
      streams.closeAll();
      await bosh?.close();
      await closed;
      metricsRoute?.dispose();
      healthRoute.dispose();
      metrics?.dispose();
      await server.stop();
      await cluster?.stop();
      log.info('Parley stopped');
    },
  };
}

/**
 * Federation (RFC 6120 server-to-server): the manager the router hands remote stanzas to, and the listener's TLS
 * context. Peers' certificates are checked against the system CAs and s2s.ca_file (RFC 6125, XEP-0178); ours is the
 * c2s one, presented both as server and, on outgoing streams, as client certificate for SASL EXTERNAL.
 */
function createS2sManager(server: ParleyServer, config: Config, tlsOptions: ReturnType<typeof tlsServerOptions>) {
  const ca = [...rootCertificates];
  if (config.s2s.ca_file !== undefined) {
    try {
      ca.push(readFileSync(config.s2s.ca_file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`s2s.ca_file: cannot read '${config.s2s.ca_file}' (${(err as Error).message})`);
    }
  }
  const manager = new S2sManager(server, {
    auth: config.s2s.auth,
    requireValidCertificates: config.s2s.require_valid_certificates,
    allow: config.s2s.allow,
    deny: config.s2s.deny,
    maxConnections: config.s2s.max_connections,
    maxQueuedStanzas: config.s2s.max_queued_stanzas,
    maxQueuedBytes: config.s2s.max_queued_bytes,
    maxStanzaSize: config.s2s.max_stanza_size,
    connectTimeoutMs: config.s2s.connect_timeout_s * 1000,
    idleTimeoutMs: config.s2s.idle_timeout_s * 1000,
    dnsTimeoutMs: config.s2s.dns_timeout_s * 1000,
    dnsServers: config.s2s.dns_servers,
    staticRoutes: config.s2s.static_routes,
    dialbackSecret: config.s2s.dialback_secret,
    maxSendBuffer: config.s2s.max_send_buffer,
    whitespacePingMs: config.s2s.whitespace_ping_s * 1000,
    writeTimeoutMs: config.s2s.write_timeout_s * 1000,
    maxBytesPerSecond: config.s2s.max_bytes_per_second,
    tlsClient: {
      cert: tlsOptions.cert,
      key: tlsOptions.key,
      ca,
      minVersion: tlsOptions.minVersion,
      ciphers: tlsOptions.ciphers,
      // Validity decides between SASL EXTERNAL and dialback (s2s-out-policy.ts); it does not end the connection.
      rejectUnauthorized: false,
      // `authorized` says whether the chain validates; the name is checked by stream/xmpp-identity.ts (RFC 6125 with
      // the XMPP identifiers: id-on-xmppAddr, SRV-ID), which Node's HTTPS-minded check would refuse.
      checkServerIdentity: () => undefined,
    },
  });
  return { manager, secureContext: createSecureContext({ ...tlsOptions, ca }) };
}
