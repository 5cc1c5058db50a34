import 'reflect-metadata';
import { INestApplicationContext, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Command, CommanderError } from 'commander';
import { AppModule } from '../app.module';
import { createLogger } from '../app.factory';
import { DomainException } from '../common/domain.exception';
import { loadConfiguration } from '../config/configuration';
import { ConfigError } from '../config/validate-env';
import { describeDatabaseError, isDatabaseUnavailable } from '../database/database-errors';
import { describeDatabaseTarget } from '../database/database-target';
import { CommandContext, CommandError, ManageCommand, UsageError } from './command';
import { commands } from './commands';
import { askSecret } from './terminal';

/**
 * Exit codes, as Django's manage.py: 0 done; 1 the command failed (CommandError, and a domain error
 * such as an unknown user or a PKI that already exists); 2 it was called wrongly (unknown command,
 * bad or missing option or argument, a value the feature refuses, a bad environment variable).
 * We add 3, as CommandError(returncode=3) could: nothing is wrong with the request, but what it needs
 * is unavailable now (the database, a lock another instance holds, the Docker daemon): try again.
 */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNAVAILABLE = 3;

const EXIT_CODES_HELP = `
Exit codes: 0 done, 1 the command failed, 2 usage or configuration error, 3 unavailable now (retry).
Every command first prints the database it uses on stderr ("Using database ...").`;

function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError || err instanceof ConfigError) return EXIT_USAGE;
  if (err instanceof DomainException)
    return err.kind === 'invalid' ? EXIT_USAGE : err.kind === 'unavailable' ? EXIT_UNAVAILABLE : EXIT_FAILED;
  if (isDatabaseUnavailable(err)) return EXIT_UNAVAILABLE;
  return EXIT_FAILED;
}

/** The program: one commander subcommand per ManageCommand, running `execute` when it is chosen. */
function program(execute: (command: ManageCommand, sub: Command) => Promise<void>): Command {
  const root = new Command('npm run manage --')
    .description('live’s management commands, in the manner of Django’s manage.py')
    // Parse errors come back here as CommanderErrors instead of ending the process.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP);
  for (const command of commands) {
    const sub = root.command(command.name).description(command.summary);
    command.declare?.(sub);
    sub.action(() => execute(command, sub));
  }
  return root;
}

/** Runs one manage command; returns the process exit code. */
export async function runManage(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  let app: INestApplicationContext | null = null;
  const chosen: { command?: ManageCommand } = {};
  const execute = async (command: ManageCommand, sub: Command): Promise<void> => {
    chosen.command = command;
    const configuration = loadConfiguration(env);
    const config = configuration.app;
    // Said first, so a command run from another folder cannot quietly make a new ./data.
    process.stderr.write(`Using database ${describeDatabaseTarget(config.database)}\n`);
    // Log lines of code run outside the app context (the migrations) follow the same rule as the app's.
    Logger.overrideLogger(env.LOG_LEVEL ? createLogger(config) : false);
    const ctx: CommandContext = {
      config,
      env,
      options: sub.opts(),
      args: sub.args,
      out: (line) => process.stdout.write(line + '\n'),
      askSecret,
      async app() {
        // The same modules, database and migrations as the server, without the scheduler or HTTP.
        app ??= await NestFactory.createApplicationContext(
          AppModule.register(configuration, { schedule: false, retryConnect: false }),
          {
            // Errors come back to this function (one clear line), not through Nest's process.exit.
            abortOnError: false,
            logger: env.LOG_LEVEL ? createLogger(config) : false,
          },
        );
        return app;
      },
    };
    await command.run(ctx);
  };
  const root = program(execute);
  if (argv.length === 0) {
    root.outputHelp(); // on stdout, with the exit codes, as --help; but no command is a usage error
    return EXIT_USAGE;
  }
  try {
    await root.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    // commander has already printed its own message (and the hint) for these.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    const name = chosen.command?.name ?? 'manage';
    const e = err as Error;
    if (err instanceof UsageError)
      process.stderr.write(`${name}: ${e.message}\n(see npm run manage -- ${name} --help)\n`);
    else if (err instanceof DomainException) process.stderr.write(`${name}: ${err.detail}\n`);
    else if (err instanceof CommandError || err instanceof ConfigError)
      process.stderr.write(`${name}: ${e.message}\n`);
    else if (isDatabaseUnavailable(err))
      process.stderr.write(`${name}: Database unavailable: ${describeDatabaseError(err)}\n`);
    else
      process.stderr.write(
        `${name} failed: ${env.LOG_LEVEL === 'debug' ? (e.stack ?? e.message) : e.message}\n`,
      );
    return exitCodeOf(err);
  } finally {
    const opened = app as INestApplicationContext | null;
    if (opened) await opened.close();
  }
}

if (require.main === module) {
  runManage(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`manage: ${err.message}\n`);
      process.exit(EXIT_FAILED);
    },
  );
}
