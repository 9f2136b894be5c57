// Composition root: config → storage → core → modules → listeners.
import { hostname } from 'node:os';
import { createSecureContext } from 'node:tls';
import { ConfigError } from './config';
import { ClusterNode } from './cluster/node';
import { RedisBus } from './cluster/redis-bus';
import type { Config } from './config';
import { createLogger, type Logger } from './log';
import { openStorage } from './storage';
import { ensurePrivateDir } from './private-files';
import { ParleyServer } from './core/server';
import { discoverModules } from './core/module-loader';
import { loadTlsMaterial } from './net/dev-certificate';
import { tlsServerOptions } from './net/tls-options';
import { startC2sListeners, type RunningListener } from './net/c2s-listener';
import { ClientStreams } from './net/client-streams';
import { startHttpServer, type RunningHttpServer } from './net/http-server';
import { registerWebSocketEndpoint } from './net/websocket';
import { createMechanisms } from './stream/sasl';
import { IpRateLimiter } from './stream/rate-limiter';
import type { C2sSettings } from './stream/c2s-settings';

export interface RunningServer {
  server: ParleyServer;
  ports: { c2s: number; c2sTls: number | undefined; http: number; https: number };
  stop(): Promise<void>;
}

/** The server with its storage and modules, without listeners (the CLI's admin commands run on this). */
export async function createCore(config: Config, log: Logger, options: { cluster?: ClusterNode } = {}): Promise<ParleyServer> {
  // The data directory holds the database and the development certificate's private key: owner-only.
  ensurePrivateDir(config.data_dir, log);
  const storage = openStorage({ backend: config.storage.backend, path: config.storage.path }, log);
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

export async function startServer(config: Config, log: Logger = createLogger(config.log.level)): Promise<RunningServer> {
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

  let tls: Awaited<ReturnType<typeof loadTlsMaterial>>;
  try {
    tls = await loadTlsMaterial(config, log);
  } catch (err) {
    await server.stop();
    await cluster?.stop();
    throw err;
  }
  // One policy (versions, cipher suites) for STARTTLS and direct TLS alike.
  const tlsOptions = tlsServerOptions(tls, config.tls);
  const secureContext = createSecureContext(tlsOptions);
  const allowPlaintext = config.c2s.allow_plaintext_auth;
  if (allowPlaintext) log.warn('c2s.allow_plaintext_auth is on: passwords may cross the network unencrypted (tests and benchmarks only)');
  const settings: C2sSettings = {
    requireTls: config.c2s.require_tls && !allowPlaintext,
    maxStanzaSize: config.c2s.max_stanza_size,
    maxSessions: config.c2s.max_connections,
    registrationOpen: config.registration.mode === 'open',
    mechanisms: createMechanisms({ allowInsecurePlain: allowPlaintext, scramIterations: config.auth.scram_iterations }),
    authLimiter: new IpRateLimiter(config.c2s.auth_attempts_per_minute, 60_000, config.rate_limit.exempt_networks),
    maxAuthFailuresPerStream: config.c2s.auth_failures_before_disconnect,
  };
  // One set of limits for every client transport.
  const streams = new ClientStreams(server, settings, {
    maxConnections: config.c2s.max_connections,
    maxConnectionsPerIp: config.c2s.max_connections_per_ip,
    idleTimeoutMs: config.c2s.idle_timeout_s * 1000,
    keepaliveMs: config.c2s.whitespace_ping_s * 1000,
    perIpExempt: (ip) => settings.authLimiter.isExempt(ip),
  });

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

  let listener: RunningListener | undefined;
  let http: RunningHttpServer | undefined;
  try {
    listener = await startC2sListeners(streams, {
      host: config.c2s.bind,
      port: config.c2s.port,
      tlsPort: config.c2s.tls_port,
      secureContext,
      tls: tlsOptions,
      maxStanzaSize: config.c2s.max_stanza_size,
    });
    http = await startHttpServer(server.http, log, { host: config.http.bind, port: config.http.port, tlsPort: config.http.tls_port, tls });
  } catch (err) {
    await listener?.close();
    websocket?.close();
    streams.closeAll();
    await server.stop();
    await cluster?.stop();
    throw err;
  }
  const ports = { ...listener.ports, http: http.ports.http, https: http.ports.https };
  log.info({ domain: config.domain, node: cluster?.nodeId, ...ports, modules: server.modules.length }, 'Parley started');
  const running = { listener, http };
  return {
    server,
    ports,
    async stop() {
      // Stop accepting, then end every stream; the listeners are closed once the last socket is gone.
      const closed = Promise.all([running.listener.close(), running.http.close()]);
      websocket?.close();
      streams.closeAll();
      await closed;
      await server.stop();
      await cluster?.stop();
      log.info('Parley stopped');
    },
  };
}
