// Composition root: config → storage → core → modules → listeners.
import { hostname } from 'node:os';
import { createSecureContext } from 'node:tls';
import { ConfigError } from './config';
import { ClusterNode } from './cluster/node';
import { RedisBus } from './cluster/redis-bus';
import type { Config } from './config';
import { createLogger, setLogLevel, type Logger } from './log';
import { openStorage } from './storage';
import { ParleyServer } from './core/server';
import { discoverModules } from './core/module-loader';
import { loadTlsMaterial } from './net/dev-certificate';
import { startC2sListeners, type C2sListenerOptions, type RunningListener } from './net/c2s-listener';
import { createMechanisms } from './stream/sasl';
import { IpRateLimiter } from './stream/rate-limiter';
import type { C2sPolicy } from './stream/c2s-policy';
import { startupNotes } from './first-run';
import { assertNotRunning, startControlServer, type ControlServer } from './control/control-server';

export interface RunningServer {
  server: ParleyServer;
  ports: { c2s: number; c2sTls: number | undefined };
  /**
   * Applies a re-read configuration without dropping sessions (SIGHUP): log level, limits, registration mode,
   * certificates and admins. Returns the keys that changed but only take effect after a restart. Throws (and
   * changes nothing) when the new certificate cannot be loaded.
   */
  reload(config: Config): Promise<{ restartNeeded: string[] }>;
  stop(): Promise<void>;
}

/** Groups read once at start (listeners, storage, modules …): a change is reported, applied at the next start. */
const RESTART_KEYS = ['domain', 'data_dir', 'storage', 'control', 's2s', 'http', 'services', 'modules', 'cluster', 'auth', 'offline', 'c2s.port', 'c2s.tls_port', 'c2s.bind', 'c2s.allow_plaintext_auth', 'c2s.idle_timeout_s', 'c2s.whitespace_ping_s'] as const;

function valueAt(config: Config, key: string): unknown {
  return key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], config);
}

/** The server with its storage and modules, without listeners (the CLI's admin commands run on this). */
export async function createCore(config: Config, log: Logger, options: { cluster?: ClusterNode } = {}): Promise<ParleyServer> {
  const storage = openStorage({ backend: config.storage.backend, path: config.storage.path });
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

export interface StartOptions {
  /** Open the control socket (control.enabled); with several workers only the first one does. Default true. */
  control?: boolean;
  /** Log the first-run guide and the other-domain warning (first-run.ts); workers leave it to the first. Default true. */
  notes?: boolean;
}

export async function startServer(config: Config, log: Logger = createLogger(config.log.level), options: StartOptions = {}): Promise<RunningServer> {
  const withControl = config.control.enabled && options.control !== false;
  // Before anything is created: a second server on the same data, or a certificate that cannot be read, fails the
  // start without leaving a database or a half-started cluster node behind.
  if (withControl) await assertNotRunning(config.control.socket);
  const tls = await loadTlsMaterial(config);
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

  // Read on every new connection, so a reload (SIGHUP) changes them for the connections that follow.
  const listenerOptions: C2sListenerOptions = {
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
  };
  let listener: RunningListener;
  try {
    listener = await startC2sListeners(server, policy, listenerOptions);
  } catch (err) {
    await server.stop();
    await cluster?.stop();
    throw err;
  }
  let control: ControlServer | undefined;
  try {
    if (withControl) control = await startControlServer(server, config.control.socket);
  } catch (err) {
    await listener.close();
    await server.stop();
    await cluster?.stop();
    throw err;
  }
  server.runtime.start();
  if (options.notes !== false) await startupNotes(server, config, listener.ports).catch((err: unknown) => log.warn({ err }, 'startup notes failed'));
  log.info({ domain: config.domain, node: cluster?.nodeId, c2s: listener.ports.c2s, c2sTls: listener.ports.c2sTls, control: control?.path, modules: server.modules.length }, 'Parley started');
  let current = config;
  return {
    server,
    ports: listener.ports,
    async reload(next) {
      // Certificates first: a bad new one fails the reload before anything changed.
      const nextTls = await loadTlsMaterial(next);
      const nextContext = createSecureContext({ cert: nextTls.cert, key: nextTls.key, minVersion: 'TLSv1.2' });
      listenerOptions.secureContext = nextContext;
      listenerOptions.tls = nextTls;
      listener.setTls(nextTls);
      setLogLevel(log, next.log.level);
      listenerOptions.maxConnections = next.c2s.max_connections;
      listenerOptions.maxConnectionsPerIp = next.c2s.max_connections_per_ip;
      policy.requireTls = next.c2s.require_tls && !allowPlaintext;
      policy.maxStanzaSize = next.c2s.max_stanza_size;
      policy.maxSessions = next.c2s.max_connections;
      policy.registrationOpen = next.registration.mode === 'open';
      policy.maxAuthFailuresPerStream = next.c2s.auth_failures_before_disconnect;
      if (next.c2s.auth_attempts_per_minute !== current.c2s.auth_attempts_per_minute || JSON.stringify(next.rate_limit) !== JSON.stringify(current.rate_limit)) {
        policy.authLimiter = new IpRateLimiter(next.c2s.auth_attempts_per_minute, 60_000, next.rate_limit.exempt_networks);
      }
      server.setAdmins(next.admins);
      const restartNeeded = RESTART_KEYS.filter((key) => JSON.stringify(valueAt(current, key)) !== JSON.stringify(valueAt(next, key)));
      current = next;
      return { restartNeeded };
    },
    async stop() {
      await control?.close();
      await listener.close();
      await server.stop();
      await cluster?.stop();
      log.info('Parley stopped');
    },
  };
}
