import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory';
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
  const db = config.database.type === 'sqlite' ? `sqlite:${config.database.path}` : 'postgres';
  new Logger('live').log({
    event: 'listening',
    url: `http://${config.host}:${config.port}/`,
    database: db,
  });
}

bootstrap().catch((err: Error) => {
  process.stderr.write(`live: failed to start: ${err.message}\n`);
  process.exit(1);
});
