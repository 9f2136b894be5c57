// Composition root: config → storage → core → modules → listeners.
import { hostname } from 'node:os';
import { createSecureContext } from 'node:tls';
import { ConfigError } from './config';
import { ClusterNode } from './cluster/node';
import { RedisBus } from './cluster/redis-bus';
import type { Config } from './config';
import { createLogger, type Logger } from './log';
import { openStorage } from './storage';
import { ParleyServer } from './core/server';
import { discoverModules } from './core/module-loader';
import { loadTlsMaterial } from './net/dev-certificate';
import { startC2sListeners, type RunningListener } from './net/c2s-listener';
import { createMechanisms } from './stream/sasl';
import { IpRateLimiter } from './stream/rate-limiter';
import type { C2sPolicy } from './stream/c2s-policy';

export interface RunningServer {
  server: ParleyServer;
  ports: { c2s: number; c2sTls: number | undefined };
  stop(): Promise<void>;
}

/** The server with its storage and modules, without listeners (the CLI's admin commands run on this). */
export async function createCore(config: Config, log: Logger, options: { cluster?: ClusterNode } = {}): Promise<ParleyServer> {
  const storage = await openStorage({ ...config.storage, onError: (err) => log.warn({ err }, 'storage: a database connection failed; it is replaced on next use') });
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
  const bus = new RedisBus(config.cluster.redis_url!, log);
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
    tls = await loadTlsMaterial(config);
  } catch (err) {
    await server.stop();
    await cluster?.stop();
    throw err;
  }
  const secureContext = createSecureContext({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
  const allowPlaintext = config.c2s.allow_plaintext_auth;
  if (allowPlaintext) log.warn('c2s.allow_plaintext_auth is on: passwords may cross the network unencrypted (tests and benchmarks only)');
  const policy: C2sPolicy = {
    requireTls: config.c2s.require_tls && !allowPlaintext,
    maxStanzaSize: config.c2s.max_stanza_size,
    maxSessions: config.c2s.max_connections,
    registrationOpen: config.registration.mode === 'open',
    mechanisms: createMechanisms({ allowInsecurePlain: allowPlaintext, scramIterations: config.auth.scram_iterations }),
    authLimiter: new IpRateLimiter(config.c2s.auth_attempts_per_minute, 60_000, config.rate_limit.exempt_networks),
    maxAuthFailuresPerStream: config.c2s.auth_failures_before_disconnect,
    preAuthIq: (iq, stream) => server.handlePreAuthIq(iq, stream),
    streamElement: (el, stream) => server.handleStreamElement(el, stream),
    preBindElement: (el, stream) => server.handlePreBindElement(el, stream),
  };

  let listener: RunningListener;
  try {
    listener = await startC2sListeners(server, policy, {
      host: config.c2s.bind,
      port: config.c2s.port,
      tlsPort: config.c2s.tls_port,
      secureContext,
      tls,
      maxConnections: config.c2s.max_connections,
      maxConnectionsPerIp: config.c2s.max_connections_per_ip,
      idleTimeoutMs: config.c2s.idle_timeout_s * 1000,
      whitespacePingMs: config.c2s.whitespace_ping_s * 1000,
      perIpExempt: (ip) => policy.authLimiter.isExempt(ip),
    });
  } catch (err) {
    await server.stop();
    await cluster?.stop();
    throw err;
  }
  log.info({ domain: config.domain, node: cluster?.nodeId, c2s: listener.ports.c2s, c2sTls: listener.ports.c2sTls, modules: server.modules.length }, 'Parley started');
  return {
    server,
    ports: listener.ports,
    async stop() {
      await listener.close();
      await server.stop();
      await cluster?.stop();
      log.info('Parley stopped');
    },
  };
}
