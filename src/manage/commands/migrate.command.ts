import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../../database/data-source-options';
import { runMigrations } from '../../database/migrate';
import { ManageCommand } from '../command';

export const migrateCommand: ManageCommand = {
  name: 'migrate',
  summary: 'apply pending database migrations (the server also does it at start-up)',
  async run(ctx) {
    const dataSource = await new DataSource(buildDataSourceOptions(ctx.config.database)).initialize();
    try {
      const { applied, mode } = await runMigrations(dataSource, ctx.config.secretKey);
      process.stderr.write(
        mode === 'django'
          ? "Django manages this database: live leaves Django's tables as they are and keeps to its live_ tables.\n"
          : 'live manages this database.\n',
      );
      if (applied.length === 0) ctx.out('No migrations to apply.');
      for (const name of applied) ctx.out(`Applied ${name}`);
    } finally {
      await dataSource.destroy();
    }
  },
};
