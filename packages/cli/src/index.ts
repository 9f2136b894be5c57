// The `parley` command: start the server, manage users, check a configuration. Thin: every command calls
// the server's own API, so the CLI, XEP-0133 ad-hoc commands and the HTTP API agree.
import { existsSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import {
  AccountError, ConfigError, ControlError, checkConfigFiles, runDoctor, LOG_LEVELS, NotRunningError, VERSION, createLogger, isWorkerProcess, loadConfig, openCommandTarget,
  startPrimary, startServer, startWorker,
  type CommandArgs, type CommandInfo, type CommandResult, type CommandTarget, type Config, type LogLevel,
} from '@parley/server';
import { readPassword } from './password';
import { storageCopy, TargetNotEmptyError } from './storage-copy';

interface StartFlags {
  config?: string;
  domain?: string;
  dataDir?: string;
  c2sPort?: number;
  c2sTlsPort?: number;
  s2sPort?: number;
  bind?: string;
  tlsCert?: string;
  tlsKey?: string;
  s2sCaFile?: string;
  s2sAuth?: 'any' | 'external';
  httpPort?: number;
  httpsPort?: number;
  registration?: 'open' | 'closed';
  allowPlaintextAuth?: boolean;
  workers?: number;
  logLevel?: LogLevel;
}

function portArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return n;
}

function workersArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError('expected a number of worker processes from 1 to 64');
  return n;
}

function logLevelArg(value: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`);
  return value as LogLevel;
}

function s2sAuthArg(value: string): 'any' | 'external' {
  if (value !== 'any' && value !== 'external') throw new InvalidArgumentError("expected 'external' (SASL EXTERNAL only) or 'any' (EXTERNAL, else dialback)");
  return value;
}

function registrationArg(value: string): 'open' | 'closed' {
  if (value !== 'open' && value !== 'closed') throw new InvalidArgumentError("expected 'open' or 'closed'");
  return value;
}

/** Flags override the file (issue #2: these names exactly). */
function overridesFrom(flags: StartFlags): Record<string, unknown> {
  const o: Record<string, any> = {};
  if (flags.domain !== undefined) o.domain = flags.domain;
  if (flags.dataDir !== undefined) o.data_dir = flags.dataDir;
  const c2s: Record<string, unknown> = {};
  if (flags.c2sPort !== undefined) c2s.port = flags.c2sPort;
  if (flags.c2sTlsPort !== undefined) c2s.tls_port = flags.c2sTlsPort;
  if (flags.allowPlaintextAuth) c2s.allow_plaintext_auth = true;
  // --bind: every listener (issue #10).
  if (flags.bind !== undefined) c2s.bind = flags.bind;
  if (Object.keys(c2s).length) o.c2s = c2s;
  const s2s: Record<string, unknown> = {};
  if (flags.s2sPort !== undefined) s2s.port = flags.s2sPort;
  if (flags.bind !== undefined) s2s.bind = flags.bind;
  if (flags.s2sCaFile !== undefined) s2s.ca_file = flags.s2sCaFile;
  if (flags.s2sAuth !== undefined) s2s.auth = flags.s2sAuth;
  if (Object.keys(s2s).length) o.s2s = s2s;
  if (flags.bind !== undefined) o.components = { bind: flags.bind };
  const tls: Record<string, unknown> = {};
  if (flags.tlsCert !== undefined) tls.cert = flags.tlsCert;
  if (flags.tlsKey !== undefined) tls.key = flags.tlsKey;
  if (Object.keys(tls).length) o.tls = tls;
  const http: Record<string, unknown> = {};
  if (flags.bind !== undefined) http.bind = flags.bind;
  if (flags.httpPort !== undefined) http.port = flags.httpPort;
  if (flags.httpsPort !== undefined) http.tls_port = flags.httpsPort;
  if (Object.keys(http).length) o.http = http;
  if (flags.registration !== undefined) o.registration = { mode: flags.registration };
  if (flags.workers !== undefined) o.cluster = { workers: flags.workers };
  // The log level: --log-level, else PARLEY_LOG_LEVEL (systemd units and containers set it), else the file.
  const envLevel = process.env.PARLEY_LOG_LEVEL;
  if (flags.logLevel !== undefined) o.log = { level: flags.logLevel };
  else if (envLevel !== undefined && envLevel !== '') {
    if (!(LOG_LEVELS as readonly string[]).includes(envLevel)) throw new ConfigError(`PARLEY_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(envLevel)}`);
    o.log = { level: envLevel };
  }
  return o;
}

/** parley.yml in the working directory is used when present and no --config was given. */
function configFileOf(flags: StartFlags): string | undefined {
  return flags.config ?? (existsSync('parley.yml') ? 'parley.yml' : undefined);
}

function configFrom(flags: StartFlags): Config {
  return loadConfig({ file: configFileOf(flags), overrides: overridesFrom(flags) as never });
}

function withServerFlags(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML configuration file (default: ./parley.yml when present)')
    .option('--domain <domain>', 'XMPP domain served')
    .option('--data-dir <dir>', 'directory for the database and generated certificates');
}

/** Runs `fn` against the running server (control socket) or, when none runs, the storage directly. */
async function withTarget<T>(flags: StartFlags, fn: (target: CommandTarget) => Promise<T>, options: { requireRunning?: boolean } = {}): Promise<T> {
  const target = await openCommandTarget(configFrom(flags), options);
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}

/** `key=value` pairs as a command's arguments: repeated keys and multi fields give lists (as in its XEP-0050 form). */
function commandArgs(command: CommandInfo, pairs: string[]): CommandArgs {
  const raw = new Map<string, string[]>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (eq === -1 || !command.fields.some((f) => f.name === key)) {
      throw new UsageError(`expected key=value with a key among: ${command.fields.map((f) => f.name).join(', ') || '(none)'}`);
    }
    raw.set(key, [...(raw.get(key) ?? []), pair.slice(eq + 1)]);
  }
  const args: CommandArgs = {};
  for (const f of command.fields) {
    const values = raw.get(f.name);
    if (!values) {
      if (f.required) throw new UsageError(`${command.name} needs ${f.name}=… (${f.label})`);
      continue;
    }
    if (f.type === 'jid-multi' || f.type === 'text-multi') args[f.name] = values;
    else if (f.type === 'boolean') args[f.name] = values.at(-1) === 'true' || values.at(-1) === '1';
    else args[f.name] = values.at(-1);
  }
  return args;
}

/** A mistake on the command line (exit status 2). */
class UsageError extends Error {}

function printResult(result: CommandResult): void {
  console.log(result.note);
  const width = Math.max(0, ...(result.fields ?? []).map((f) => f.label.length));
  for (const f of result.fields ?? []) console.log(`${f.label.padEnd(width)}  ${f.values.join(', ')}`);
}

/** Resolves once SIGTERM or SIGINT arrived and `stop` finished. */
function untilSignal(stop: (signal: string) => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) return;
      stopping = true;
      void stop(signal).then(resolve);
    };
    // Kept installed: a second signal (the primary forwarding one a worker already got) must not kill the
    // process halfway through its clean shutdown.
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
}

/** `parley start` with several workers: this process only supervises them. */
async function runPrimary(config: Config): Promise<void> {
  const log = createLogger(config.log.level);
  const primary = await startPrimary(config, log);
  try {
    await primary.ready;
  } catch (err) {
    await primary.stop();
    throw err;
  }
  process.on('SIGHUP', () => {
    log.info('SIGHUP: the workers reload the configuration');
    primary.reload();
  });
  await untilSignal(async (signal) => {
    log.info({ signal }, 'shutting down the workers');
    await primary.stop();
    log.info('Parley stopped');
  });
}

export function buildProgram(): Command {
  const program = new Command('parley').description('Parley XMPP server').version(VERSION, '-V, --version').exitOverride().showHelpAfterError();

  withServerFlags(program.command('start').description('run the server'))
    .option('--c2s-port <n>', 'client port with STARTTLS (default 5222)', portArg)
    .option('--c2s-tls-port <n>', 'client port with direct TLS, XEP-0368 (default 5223)', portArg)
    .option('--s2s-port <n>', 'server-to-server port (default 5269)', portArg)
    .option('--bind <address>', 'address every listener binds to (c2s.bind, s2s.bind, http.bind, components.bind)')
    .option('--tls-cert <file>', 'PEM certificate (tls.cert), for clients and other servers')
    .option('--tls-key <file>', 'PEM private key of --tls-cert (tls.key)')
    .option('--s2s-ca-file <file>', "extra CA (PEM) trusted for other servers' certificates (s2s.ca_file)")
    .option('--s2s-auth <mode>', "server authentication: 'external' (SASL EXTERNAL only, dialback off) or 'any' (default: EXTERNAL when the certificate validates, else dialback)", s2sAuthArg)
    .option('--http-port <n>', 'HTTP port: WebSocket, host-meta (default 5280)', portArg)
    .option('--https-port <n>', 'HTTPS port, with the c2s certificate (default 5281)', portArg)
    .option('--registration <mode>', 'in-band registration: open or closed (default closed)', registrationArg)
    .option('--allow-plaintext-auth', 'allow SASL without TLS (loopback tests and benchmarks only)')
    .option('--log-level <level>', `minimum log level: ${LOG_LEVELS.join(', ')} (log.level; default info, or PARLEY_LOG_LEVEL)`, logLevelArg)
    .option('--workers <n>', 'worker processes behind the same ports (cluster.workers; more than 1 needs cluster.backend redis)', workersArg)
    .action(async (flags: StartFlags) => {
      const config = configFrom(flags);
      const file = configFileOf(flags);
      let running: Awaited<ReturnType<typeof startServer>>;
      try {
        if (config.cluster.workers > 1 && !isWorkerProcess()) return await runPrimary(config);
        running = isWorkerProcess() ? await startWorker(config) : await startServer(config);
      } catch (err) {
        // A failed start names the configuration it ran with, so the operator knows which file to fix.
        if (err instanceof ConfigError) {
          const source = file ?? 'no configuration file (defaults and flags)';
          throw new ConfigError(err.problems.map((p) => (file !== undefined && p.startsWith(file) ? p : `${source}: ${p}`)), file);
        }
        throw err;
      }
      // SIGHUP (systemctl reload): re-read the configuration and apply what can change without dropping sessions.
      process.on('SIGHUP', () => {
        const log = running.server.log;
        let next: Config;
        try {
          next = configFrom(flags);
        } catch (err) {
          log.error({ file: configFileOf(flags) }, `configuration not reloaded, the running one stays: ${(err as Error).message}`);
          return;
        }
        running.reload(next).then(
          ({ restartNeeded }) => {
            log.info({ file: configFileOf(flags), level: next.log.level }, 'configuration reloaded');
            if (restartNeeded.length > 0) log.warn({ keys: restartNeeded }, `changed keys that apply after a restart: ${restartNeeded.join(', ')}`);
          },
          (err: unknown) => log.error({ file: configFileOf(flags) }, `configuration not reloaded, the running one stays: ${(err as Error).message}`),
        );
      });
      await untilSignal((signal) => {
        running.server.log.info({ signal }, 'shutting down');
        return running.stop().catch((err: unknown) => running.server.log.error({ err }, 'shutdown failed'));
      });
      // A worker's IPC channel to the primary would keep it alive.
      if (isWorkerProcess()) process.disconnect?.();
    });

  withServerFlags(program.command('check-config').description('validate the configuration and print the result'))
    .action((flags: StartFlags) => {
      const config = configFrom(flags);
      const source = configFileOf(flags) ?? 'defaults and flags';
      const { errors, warnings } = checkConfigFiles(config);
      for (const w of warnings) console.error(`warning: ${source}: ${w}`);
      if (errors.length > 0) throw new ConfigError(errors.map((e) => `${source}: ${e}`), configFileOf(flags));
      console.log(`configuration OK (${source}): domain ${config.domain}, data in ${config.data_dir}, c2s ${config.c2s.port}/${config.c2s.tls_port}`);
    });

  withServerFlags(program.command('doctor').description('check configuration, certificate, DNS records, ports and permissions; suggest fixes'))
    .option('--resolver <address>', 'DNS server to ask, e.g. 1.1.1.1 or 127.0.0.1:5353 (repeatable; default the system resolver)', (v: string, prev: string[] = []) => [...prev, v])
    .action(async (flags: StartFlags & { resolver?: string[] }) => {
      const findings = await runDoctor(configFrom(flags), { resolvers: flags.resolver });
      const mark = { ok: 'ok   ', warn: 'WARN ', error: 'ERROR' } as const;
      for (const f of findings) {
        console.log(`${mark[f.level]} [${f.check}] ${f.message}`);
        if (f.fix) console.log(`      fix: ${f.fix}`);
      }
      const errors = findings.filter((f) => f.level === 'error').length;
      const warnings = findings.filter((f) => f.level === 'warn').length;
      console.log(errors + warnings === 0 ? 'no problems found' : `${errors} error(s), ${warnings} warning(s)`);
      if (errors > 0) process.exitCode = 1;
    });

  // Users and admin commands run the XEP-0133 definitions (modules/xep-0133-admin), on the running server when one
  // answers on the control socket, so what the CLI does and what an admin's client does cannot differ.
  const user = program.command('user').description('manage accounts (on the running server, or the storage when none runs)');
  withServerFlags(user.command('add <user>').description('create an account (user or user@domain)'))
    .option('-p, --password <password>', 'the password (default: prompt, or first line of standard input)')
    .action(async (name: string, flags: StartFlags & { password?: string }) => {
      const password = flags.password ?? (await readPassword(`Password for ${name}: `));
      await withTarget(flags, async (t) => console.log((await t.run('add-user', { accountjid: name, password })).note));
    });
  withServerFlags(user.command('remove <user>').description('delete an account and its data (ends its sessions)'))
    .action(async (name: string, flags: StartFlags) => {
      await withTarget(flags, async (t) => console.log((await t.run('delete-user', { accountjids: [name] })).note));
    });
  withServerFlags(user.command('passwd <user>').description("change an account's password"))
    .option('-p, --password <password>', 'the new password (default: prompt, or first line of standard input)')
    .action(async (name: string, flags: StartFlags & { password?: string }) => {
      const password = flags.password ?? (await readPassword(`New password for ${name}: `));
      await withTarget(flags, async (t) => console.log((await t.run('change-user-password', { accountjid: name, password })).note));
    });
  withServerFlags(user.command('list').description('list accounts'))
    .action(async (flags: StartFlags) => {
      await withTarget(flags, async (t) => {
        const result = await t.run('get-registered-users-list', { max_items: 'none' });
        for (const jid of result.fields?.find((f) => f.name === 'registereduserjids')?.values ?? []) console.log(jid);
      });
    });

  withServerFlags(program.command('status').description('version, uptime, sessions, memory and event-loop delay of the running server'))
    .action(async (flags: StartFlags) => {
      await withTarget(flags, async (t) => printResult(await t.run('status', {})), { requireRunning: true });
    });

  const clusterCmd = program.command('cluster').description('the nodes serving the domain together');
  withServerFlags(clusterCmd.command('status').description('nodes with their sessions and rooms, and whether Redis and the database answer'))
    .action(async (flags: StartFlags) => {
      await withTarget(flags, async (t) => printResult(await t.run('cluster-status', {})), { requireRunning: true });
    });

  // The admin commands (XEP-0133 and others), the same definitions XMPP admins run as ad-hoc commands.
  withServerFlags(program.command('admin [command] [args...]').description('run an admin command with key=value arguments; without a command, list them'))
    .action(async (name: string | undefined, pairs: string[], flags: StartFlags) => {
      await withTarget(flags, async (t) => {
        const commands = await t.list();
        if (name === undefined) {
          for (const c of commands) {
            const live = c.live && t.mode === 'storage' ? '  (needs the running server)' : '';
            console.log(`${c.name.padEnd(28)} ${c.description}  [${c.fields.map((f) => f.name).join(' ')}]${live}`);
          }
          return;
        }
        const command = commands.find((c) => c.name === name);
        if (!command) throw new UsageError(`no admin command ${name} (run 'parley admin' for the list)`);
        printResult(await t.run(name, commandArgs(command, pairs)));
      });
    });
  const storage = program.command('storage').description('move data between storage backends');
  storage
    .command('copy')
    .description('copy every account, roster, offline message, vCard, private and PEP/pubsub item, room and archive')
    .requiredOption('--from <storage>', 'sqlite:PATH or postgres://user:password@host/database')
    .requiredOption('--to <storage>', 'sqlite:PATH or postgres://user:password@host/database')
    .option('--force', 'write into a target that already holds data')
    .action((flags: { from: string; to: string; force?: boolean }) => storageCopy(flags));
  return program;
}

/** Runs the CLI; returns the exit code. Errors print one clear line, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    // A command that found problems without failing (doctor) sets process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ConfigError || err instanceof AccountError || err instanceof UsageError || err instanceof TargetNotEmptyError) {
      console.error(`parley: ${err.message}`);
      return 2;
    }
    if (err instanceof ControlError) {
      console.error(`parley: ${err.message}`);
      return err.kind === 'internal' ? 1 : 2;
    }
    if (err instanceof NotRunningError) {
      console.error(`parley: ${err.message}`);
      return 3;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      console.error(`parley: ${e.message} (another server is using that port; choose another with --c2s-port etc.)`);
      return 1;
    }
    console.error(`parley: ${e.message ?? String(err)}`);
    return 1;
  }
}
