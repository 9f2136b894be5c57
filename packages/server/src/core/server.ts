// The composition of the core: domains, hooks, sessions, router, accounts, commands and the loaded modules.
// Transport-agnostic (STYLE.md habit 9): listeners hand connections to a stream, the stream talks to this.
import type { S2sManager } from './s2s-manager';
import { Jid, StreamError, xml, type XmlElement } from '@parley/protocol';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { Storage } from '../storage/types';
import { AccountService } from './accounts';
import { CommandRegistry } from './commands';
import { HostedDomain } from './domains';
import type { Origin, ServerEvents } from './events';
import { Hooks, Priority, type Disposable } from './hooks';
import type { IqTarget } from './iq';
import type { C2sFacet, IqRegistrar, ModuleContext, ModuleDefinition, ServerApi, ServiceContext } from './module-api';
import { Router } from './router';
import { SessionTable } from './sessions';
import { C2sRegistry } from './c2s-registry';
import { HttpRoutes } from './http-routes';
import { RuntimeMonitor } from './runtime';
import { audit } from './audit';
import { statusCommand } from './status';
import { clusterStatusCommand } from '../cluster/status';
import { LocalCluster, type Cluster } from '../cluster/types';
import { ComponentTable } from './components';

export interface LoadedModule {
  definition: ModuleDefinition<any>;
  disposables: Disposable[];
  stops: (() => void | Promise<void>)[];
}

export class ParleyServer implements ServerApi {
  readonly hooks = new Hooks<ServerEvents>();
  readonly sessions = new SessionTable();
  readonly domains = new Map<string, HostedDomain>();
  readonly commands = new CommandRegistry();
  readonly router: Router;
  readonly accounts: AccountService;
  readonly main: HostedDomain;
  readonly startedAt = Date.now();
  /** Event-loop delay and memory, for `parley status` and the metrics (started by startServer). */
  readonly runtime = new RuntimeMonitor(this.startedAt);
  readonly modules: LoadedModule[] = [];
  /** What modules added to client streams (ctx.c2s), read by the client streams. */
  readonly c2s = new C2sRegistry();
  /** Routes of the HTTP server (ctx.http), served by net/http-server.ts once the listeners start. */
  readonly http = new HttpRoutes();
  /** External components (XEP-0114): which configured component domain is connected where. */
  readonly components: ComponentTable;
  /** Federation (core/s2s-manager.ts), when s2s.enabled and listening. */
  s2s: S2sManager | undefined;
  /** Replaced by a ClusterNode when the server is one of several serving the domain (main.ts). */
  cluster: Cluster = new LocalCluster();
  private admins: Set<string>;
  private stopping = false;
  /** Reports a failed handler of an event emitted without awaiting it (Hooks.emit). */
  readonly hookFailed = (err: unknown): void => this.log.error({ err }, 'event handler failed');

  constructor(
    readonly config: Config,
    readonly storage: Storage,
    readonly log: Logger,
  ) {
    this.main = new HostedDomain(config.domain, 'main');
    this.domains.set(config.domain, this.main);
    this.router = new Router(this.hooks, this.domains, config.domain, log);
    this.accounts = new AccountService(config.domain, storage.accounts, this.hooks, config.auth.scram_iterations, (user) => this.cluster.invalidate('account', user));
    this.admins = new Set(config.admins.map((a) => Jid.parse(a).toBareString()));
    this.components = new ComponentTable(this.domains, this.main, () => this.cluster.nodeId, log);
    for (const { domain, secret } of config.components.list) this.components.configure(domain, secret);
    this.commands.add(statusCommand(this));
    this.commands.add(clusterStatusCommand(this));
    // Account changes in the audit log, whoever made them (XEP-0077 registration, XEP-0133, the CLI); first, so
    // that a handler ending the event cannot hide it.
    this.hooks.on('account/created', ({ jid }) => audit.accountCreated(log, jid.toString()), Priority.Filter);
    this.hooks.on('account/deleted', ({ jid }) => audit.accountDeleted(log, jid.toString()), Priority.Filter);
    this.hooks.on('account/password-changed', ({ jid }) => audit.passwordChanged(log, jid.toString()), Priority.Filter);
    // The main host's iq table answers from here; delivery modules only see iqs no feature took.
    for (const target of ['host', 'bare', 'full'] as const) {
      this.hooks.on(
        `iq/${target}`,
        async (event) => {
          const handler = this.main.iq.lookup(event.stanza, target);
          if (!handler) return false;
          await this.router.runIq(handler, event);
          return true;
        },
        Priority.Feature,
      );
    }
  }

  get domain(): string {
    return this.config.domain;
  }

  /** Joins a cluster (before modules load, so that their cache invalidations register with it). */
  setCluster(cluster: Cluster): void {
    this.cluster = cluster;
    cluster.onInvalidate('account', (user) => this.accounts.forget(user));
  }

  send(stanza: XmlElement, origin: Origin = { kind: 'local' }): Promise<void> {
    return this.router.route(stanza, origin);
  }

  /** XEP-0388 / XEP-0386 inline features: Bind 2 reads the list of its own. */
  get inline(): C2sRegistry['inline'] {
    return this.c2s.inline;
  }

  /** A reloaded configuration's `admins` (SIGHUP): applies to the next admin request. */
  setAdmins(admins: string[]): void {
    this.admins = new Set(admins.map((a) => Jid.parse(a).toBareString()));
  }

  isAdmin(jid: Jid): boolean {
    return this.admins.has(jid.toBareString());
  }

  async loadModule(definition: ModuleDefinition<any>): Promise<void> {
    const loaded: LoadedModule = { definition, disposables: [], stops: [] };
    const raw = this.config.modules.options[definition.name] ?? {};
    let options: unknown = raw;
    if (definition.options) {
      const parsed = definition.options.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new Error(`modules.options.${definition.name}.${issue.path.join('.')}: ${issue.message}`);
      }
      options = parsed.data;
    }
    const ctx = this.createContext(definition, loaded, options);
    await definition.setup(ctx);
    this.modules.push(loaded);
  }

  private iqRegistrar(domain: HostedDomain, loaded: LoadedModule): IqRegistrar {
    const register = (type: 'get' | 'set') => (ns: string, name: string, opts: { to: IqTarget[]; feature?: boolean }, handler: Parameters<IqRegistrar['get']>[3]) => {
      const d = domain.iq.register(type, ns, name, opts.to, handler);
      if (opts.feature !== false) {
        if (opts.to.includes('host')) domain.info.features.add(ns);
        if (opts.to.includes('bare')) domain.accountInfo.features.add(ns);
      }
      loaded.disposables.push(d);
      return d;
    };
    return { get: register('get'), set: register('set') };
  }

  /** Client stream registrations of one module, disposed with it. */
  private c2sFacet(track: (d: Disposable) => Disposable): C2sFacet {
    const c2s = this.c2s;
    return {
      registerPreAuthIq: (ns, handler) => track(c2s.registerPreAuthIq(ns, handler)),
      registerStreamElement: (ns, handler) => track(c2s.registerStreamElement(ns, handler)),
      registerPreBindElement: (ns, handler) => track(c2s.registerPreBindElement(ns, handler)),
      registerOutboundFilter: (filter) => track(c2s.registerOutboundFilter(filter)),
      offerSasl2: () => track(c2s.inline.offerSasl2()),
      registerSasl2Inline: (feature) => track(c2s.inline.registerSasl2(feature)),
      registerBind2Inline: (feature) => track(c2s.inline.registerBind2(feature)),
    };
  }

  private createContext(definition: ModuleDefinition<any>, loaded: LoadedModule, options: unknown): ModuleContext<any> {
    const log = this.log.child({ module: definition.name });
    const http = this.http;
    const track = (d: Disposable): Disposable => {
      loaded.disposables.push(d);
      return d;
    };
    return {
      name: definition.name,
      log,
      options,
      server: this,
      iq: this.iqRegistrar(this.main, loaded),
      c2s: this.c2sFacet(track),
      http: {
        route: (method, path, handler) => track(this.http.route(method, path, handler)),
        get connectionMethods() {
          return http.connectionMethods;
        },
        get ports() {
          return http.ports;
        },
      },
      disco: { host: this.main.info, account: this.main.accountInfo },
      on: (event, handler, priority) => track(this.hooks.on(event, handler, priority)),
      keyval: (name) => this.storage.keyval(name),
      map: (name) => this.storage.map(name),
      archive: (name) => this.storage.archive(name),
      exclusive: (scope, owner, fn) => this.storage.exclusive(scope, owner, fn),
      storageSettled: () => this.storage.settled(),
      service: (domainName, identity, serviceOptions): ServiceContext => {
        const name = Jid.parse(domainName).domain;
        if (this.domains.has(name)) throw new Error(`domain ${name} is already hosted`);
        const domain = new HostedDomain(name, 'service');
        domain.affinity = serviceOptions?.affinity ?? 'service';
        domain.info.identities.push(identity);
        this.domains.set(name, domain);
        this.main.items.push({ jid: name, name: identity.name });
        loaded.disposables.push({
          dispose: () => {
            this.domains.delete(name);
            const i = this.main.items.findIndex((it) => it.jid === name);
            if (i !== -1) this.main.items.splice(i, 1);
          },
        });
        return {
          domain: name,
          iq: this.iqRegistrar(domain, loaded),
          info: domain.info,
          onStanza: (handler) => {
            domain.handler = handler;
          },
        };
      },
      command: (command) => track(this.commands.add(command)),
      onStop: (fn) => loaded.stops.push(fn),
    };
  }

  /** Closes every stream (RFC 6120 §4.4 with <system-shutdown/>), stops modules, flushes storage. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.hooks.fire('server/stopping', {});
    for (const session of [...this.sessions.local()]) session.close(new StreamError('system-shutdown'));
    this.components.closeAll();
    for (const m of [...this.modules].reverse()) {
      for (const stop of m.stops) {
        try {
          await stop();
        } catch (err) {
          this.log.warn({ err, module: m.definition.name }, 'module stop failed');
        }
      }
      for (const d of m.disposables) d.dispose();
    }
    this.runtime.stop();
    await this.storage.close();
  }

  /** A stanza's XML for the log without message bodies (privacy), for debugging. */
  describe(stanza: XmlElement): string {
    return xml(stanza.name, { ...stanza.attrs }).toString();
  }
}
