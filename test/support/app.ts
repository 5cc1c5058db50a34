import { mkdtempSync, rmSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { createApp } from '../../src/app.factory';
import { AppConfig } from '../../src/config/app.config';
import { loadConfiguration } from '../../src/config/configuration';

export interface TestApp {
  app: INestApplication;
  baseUrl: string;
  port: number;
  dataDir: string;
  config: AppConfig;
  close(): Promise<void>;
}

export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Boots the real app once for a suite: a temporary data dir with its own SQLite file (or the
 * DATABASE_URL given), migrations applied, listening on a free port on 127.0.0.1.
 * PASSWORD_ITERATIONS defaults low to keep tests quick; tests of the real default set it.
 */
export async function startApp(
  env: Record<string, string> = {},
  options: { childEnv?: Record<string, string> } = {},
): Promise<TestApp> {
  // A DATA_DIR given by the test is used (and left in place); otherwise a temporary one is made.
  const ownDir = env.DATA_DIR === undefined;
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'live-test-'));
  const merged: Record<string, string> = {
    DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    PASSWORD_ITERATIONS: '1000',
    ...env,
  };
  // The configuration comes from these variables alone, never from process.env. Variables meant
  // for the tools live runs (certbot's REQUESTS_CA_BUNDLE, a fake docker's settings) are process
  // environment, inherited by child processes: set for the app's lifetime, restored on close.
  const restoreEnv = setProcessEnv(options.childEnv ?? {});
  const configuration = loadConfiguration(merged);
  const config = configuration.app;
  const app = await createApp(configuration);
  await app.listen(config.port, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return {
    app,
    config,
    port,
    dataDir,
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      await app.close();
      restoreEnv();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function setProcessEnv(vars: Record<string, string>): () => void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** Whether PostgreSQL answers; in CI its absence is a failure, locally a reason to skip. */
export async function postgresAvailable(): Promise<boolean> {
  const client = new Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`PostgreSQL is required in CI: ${(err as Error).message}`);
    console.warn(`Skipping PostgreSQL tests: ${(err as Error).message}`);
    return false;
  }
}

/** Creates a uniquely named database for one suite; returns its URL and a drop function. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `live_test_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
