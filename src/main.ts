import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory';
import { pbkdf2Pool } from './auth/password-hasher';
import { ConfigurationProblems, loadConfiguration, LiveConfiguration } from './config/configuration';

async function bootstrap(): Promise<void> {
  // Every variable of every feature, before Nest starts: all problems at once, exit 2.
  let configuration: LiveConfiguration;
  try {
    configuration = loadConfiguration(process.env);
  } catch (err) {
    if (!(err instanceof ConfigurationProblems)) throw err;
    for (const line of err.problems) process.stderr.write(`live: ${line}\n`);
    process.exit(2);
  }
  const config = configuration.app;
  const app = await createApp(configuration);
  await app.listen(config.port, config.host);
  // Hashing threads start now, not inside the first burst of logins (a thread's start-up runs at
  // normal priority, before it lowers its own).
  pbkdf2Pool.resize(config.passwordHashThreads);
  await pbkdf2Pool.warm();
  const hashing = pbkdf2Pool.threads();
  const db = config.database.type === 'sqlite' ? `sqlite:${config.database.path}` : 'postgres';
  new Logger('live').log({
    event: 'listening',
    url: `http://${config.host}:${config.port}/`,
    database: db,
    passwordHashing: {
      threads: pbkdf2Pool.threadCount,
      policy: hashing[0]?.policy ?? 'unknown',
      nice: hashing[0]?.nice ?? null,
    },
  });
}

bootstrap().catch((err: Error) => {
  process.stderr.write(`live: failed to start: ${err.message}\n`);
  process.exit(1);
});
