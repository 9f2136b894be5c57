// The `parley` command: start the server, manage users, check a configuration. Thin: every command calls
// the server's own API, so the CLI, XEP-0133 ad-hoc commands and the HTTP API agree.
import { existsSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import {
  AccountError, ConfigError, createCore, createLogger, isWorkerProcess, loadConfig, startPrimary, startServer, startWorker,
  type Config, type ParleyServer,
} from '@parley/server';
import { readPassword } from './password';

interface StartFlags {
  config?: string;
  domain?: string;
  dataDir?: string;
  c2sPort?: number;
  c2sTlsPort?: number;
  s2sPort?: number;
  httpPort?: number;
  httpsPort?: number;
  registration?: 'open' | 'closed';
  allowPlaintextAuth?: boolean;
  workers?: number;
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
  if (Object.keys(c2s).length) o.c2s = c2s;
  if (flags.s2sPort !== undefined) o.s2s = { port: flags.s2sPort };
  const http: Record<string, unknown> = {};
  if (flags.httpPort !== undefined) http.port = flags.httpPort;
  if (flags.httpsPort !== undefined) http.tls_port = flags.httpsPort;
  if (Object.keys(http).length) o.http = http;
  if (flags.registration !== undefined) o.registration = { mode: flags.registration };
  if (flags.workers !== undefined) o.cluster = { workers: flags.workers };
  return o;
}

function configFrom(flags: StartFlags): Config {
  // parley.yml in the working directory is used when present and no --config was given.
  const file = flags.config ?? (existsSync('parley.yml') ? 'parley.yml' : undefined);
  return loadConfig({ file, overrides: overridesFrom(flags) as never });
}

function withServerFlags(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML configuration file (default: ./parley.yml when present)')
    .option('--domain <domain>', 'XMPP domain served')
    .option('--data-dir <dir>', 'directory for the database and generated certificates');
}

async function withCore<T>(flags: StartFlags, fn: (core: Awaited<ReturnType<typeof createCore>>) => Promise<T>): Promise<T> {
  const config = configFrom(flags);
  const core = await createCore(config, createLogger('warn'));
  try {
    return await fn(core);
  } finally {
    await core.stop();
  }
}

function userPart(input: string, domain: string): string {
  const at = input.indexOf('@');
  if (at === -1) return input;
  const host = input.slice(at + 1);
  if (host !== domain) throw new AccountError('invalid-username', `${input} is not on this server's domain ${domain}`);
  return input.slice(0, at);
}

type AdminCommand = NonNullable<ReturnType<ParleyServer['commands']['get']>>;
type CommandArgs = Parameters<AdminCommand['run']>[0];

/** `key=value` pairs as a command's arguments: repeated keys and multi fields give lists (as in its XEP-0050 form). */
function commandArgs(command: AdminCommand, pairs: string[]): CommandArgs {
  const raw = new Map<string, string[]>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (eq === -1 || !command.fields.some((f) => f.name === key)) {
      throw new Error(`expected key=value with a key among: ${command.fields.map((f) => f.name).join(', ') || '(none)'}`);
    }
    raw.set(key, [...(raw.get(key) ?? []), pair.slice(eq + 1)]);
  }
  const args: CommandArgs = {};
  for (const f of command.fields) {
    const values = raw.get(f.name);
    if (!values) {
      if (f.required) throw new Error(`${command.name} needs ${f.name}=… (${f.label})`);
      continue;
    }
    if (f.type === 'jid-multi' || f.type === 'text-multi') args[f.name] = values;
    else if (f.type === 'boolean') args[f.name] = values.at(-1) === 'true' || values.at(-1) === '1';
    else args[f.name] = values.at(-1);
  }
  return args;
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
  await untilSignal(async (signal) => {
    log.info({ signal }, 'shutting down the workers');
    await primary.stop();
    log.info('Parley stopped');
  });
}

export function buildProgram(): Command {
  const program = new Command('parley').description('Parley XMPP server').exitOverride().showHelpAfterError();

  withServerFlags(program.command('start').description('run the server'))
    .option('--c2s-port <n>', 'client port with STARTTLS (default 5222)', portArg)
    .option('--c2s-tls-port <n>', 'client port with direct TLS, XEP-0368 (default 5223)', portArg)
    .option('--s2s-port <n>', 'server-to-server port (default 5269)', portArg)
    .option('--http-port <n>', 'HTTP port: WebSocket, host-meta (default 5280)', portArg)
    .option('--https-port <n>', 'HTTPS port, with the c2s certificate (default 5281)', portArg)
    .option('--registration <mode>', 'in-band registration: open or closed (default closed)', registrationArg)
    .option('--allow-plaintext-auth', 'allow SASL without TLS (loopback tests and benchmarks only)')
    .option('--workers <n>', 'worker processes behind the same ports (cluster.workers; more than 1 needs cluster.backend redis)', workersArg)
    .action(async (flags: StartFlags) => {
      const config = configFrom(flags);
      if (config.cluster.workers > 1 && !isWorkerProcess()) return runPrimary(config);
      const running = isWorkerProcess() ? await startWorker(config) : await startServer(config);
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
      console.log(`configuration OK: domain ${config.domain}, data in ${config.data_dir}, c2s ${config.c2s.port}/${config.c2s.tls_port}`);
    });

  const user = program.command('user').description('manage accounts');
  withServerFlags(user.command('add <user>').description('create an account (user or user@domain)'))
    .option('-p, --password <password>', 'the password (default: prompt, or first line of standard input)')
    .action(async (name: string, flags: StartFlags & { password?: string }) => {
      await withCore(flags, async (core) => {
        const password = flags.password ?? (await readPassword(`Password for ${name}: `));
        const jid = await core.accounts.create(userPart(name, core.domain), password);
        console.log(`created ${jid}`);
      });
    });
  withServerFlags(user.command('remove <user>').description('delete an account and its data'))
    .action(async (name: string, flags: StartFlags) => {
      await withCore(flags, async (core) => {
        await core.accounts.delete(userPart(name, core.domain));
        console.log(`removed ${name}`);
      });
    });
  withServerFlags(user.command('passwd <user>').description("change an account's password"))
    .option('-p, --password <password>', 'the new password (default: prompt, or first line of standard input)')
    .action(async (name: string, flags: StartFlags & { password?: string }) => {
      await withCore(flags, async (core) => {
        const password = flags.password ?? (await readPassword(`New password for ${name}: `));
        await core.accounts.setPassword(userPart(name, core.domain), password);
        console.log(`password changed for ${name}`);
      });
    });
  withServerFlags(user.command('list').description('list accounts'))
    .action(async (flags: StartFlags) => {
      await withCore(flags, async (core) => {
        for (const u of (await core.accounts.list()).sort()) console.log(`${u}@${core.domain}`);
      });
    });

  // The admin commands (XEP-0133 and others), the same definitions XMPP admins run as ad-hoc commands.
  withServerFlags(program.command('admin [command] [args...]').description('run an admin command with key=value arguments; without a command, list them'))
    .action(async (name: string | undefined, pairs: string[], flags: StartFlags) => {
      await withCore(flags, async (core) => {
        if (name === undefined) {
          for (const c of core.commands.list()) console.log(`${c.name.padEnd(28)} ${c.description}  [${c.fields.map((f) => f.name).join(' ')}]`);
          return;
        }
        const command = core.commands.get(name);
        if (!command) throw new Error(`no admin command ${name} (run 'parley admin' for the list)`);
        const result = await command.run(commandArgs(command, pairs), undefined);
        console.log(result.note);
        for (const f of result.fields ?? []) console.log(`${f.label}: ${f.values.join(', ')}`);
      });
    });
  return program;
}

/** Runs the CLI; returns the exit code. Errors print one clear line, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ConfigError || err instanceof AccountError) {
      console.error(`parley: ${err.message}`);
      return 2;
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
