import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { parseArgs } from 'node:util';
import { AppModule } from '../app.module';
import { createLogger } from '../app.factory';
import { loadConfiguration } from '../config/configuration';
import { ConfigError } from '../config/validate-env';
import { CommandContext, CommandError, ManageCommand, UsageError } from './command';
import { commands } from './commands';
import { askSecret } from './terminal';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function usage(): string {
  const width = Math.max(...commands.map((c) => c.usage.length));
  return [
    'Usage: npm run manage -- <command> [options]',
    '',
    ...commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

/** Runs one manage command; returns the process exit code. */
export async function runManage(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage() + '\n');
    return name ? EXIT_OK : EXIT_USAGE;
  }
  const command: ManageCommand | undefined = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`Unknown command "${name}".\n\n${usage()}\n`);
    return EXIT_USAGE;
  }
  let app: INestApplicationContext | null = null;
  try {
    const configuration = loadConfiguration(env);
    const config = configuration.app;
    const parsed = parseArgs({
      args: rest,
      options: command.options ?? {},
      allowPositionals: true,
      strict: true,
    });
    const ctx: CommandContext = {
      config,
      env,
      values: parsed.values as CommandContext['values'],
      positionals: parsed.positionals,
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
    return EXIT_OK;
  } catch (err) {
    const e = err as Error & { code?: string };
    if (err instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${name}: ${e.message}\nUsage: npm run manage -- ${command.usage}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof CommandError || err instanceof ConfigError) {
      process.stderr.write(`${name}: ${e.message}\n`);
      return err instanceof ConfigError ? EXIT_USAGE : EXIT_FAILED;
    }
    process.stderr.write(
      `${name} failed: ${env.LOG_LEVEL === 'debug' ? (e.stack ?? e.message) : e.message}\n`,
    );
    return EXIT_FAILED;
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
