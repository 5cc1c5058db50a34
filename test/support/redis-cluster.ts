import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './instances';

const run = promisify(execFile);
const SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const CLI = process.env.REDIS_CLI_BIN ?? 'redis-cli';

/**
 * redis-server and redis-cli (Debian's redis-server package), ≥ 7.0 for sharded pub/sub. Checked
 * when the suite file loads, to choose describe or describe.skip; in CI a missing one fails.
 */
export function redisClusterToolsAvailable(): boolean {
  try {
    const version = execFileSync(SERVER, ['--version'], { timeout: 5000, encoding: 'utf8' });
    execFileSync(CLI, ['--version'], { timeout: 5000, encoding: 'utf8' });
    const major = Number(/v=(\d+)\./.exec(version)?.[1] ?? 0);
    if (major < 7) throw new Error(`redis-server ${major}.x has no sharded pub/sub (7.0 or later needed)`);
    return true;
  } catch (err) {
    if (process.env.CI === 'true')
      throw new Error(`CI needs redis-server ≥ 7.0 and redis-cli: ${(err as Error).message}`);
    console.warn(`[live tests] Redis Cluster suite skipped: ${(err as Error).message}`);
    return false;
  }
}

/** One redis-cli call against a node, bounded. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout.trim();
}

export interface RedisClusterNode {
  port: number;
  running: boolean;
}

/** A private Redis Cluster on loopback ports, in a temporary directory, torn down by `stop`. */
export interface RedisCluster {
  nodes: RedisClusterNode[];
  /** `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…` */
  url: string;
  /** The port of the master that serves `slot` now (asked of any running node). */
  masterOf(slot: number): Promise<number>;
  slotOf(key: string): Promise<number>;
  kill(port: number): Promise<void>;
  restart(port: number): Promise<void>;
  /** Until `cluster info` says cluster_state:ok on every running node (and every slot is served). */
  waitOk(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

function exited(proc: ChildProcess, timeoutMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(done, timeoutMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      done();
    });
  });
}

async function listening(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await redisCli(port, 'ping').catch(() => '')) === 'PONG') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis-server did not answer on ${port}`);
}

/**
 * `masters` masters and `replicasPerMaster` replicas each (`redis-cli --cluster create`), with a
 * short cluster-node-timeout so a killed master is noticed and replaced within a few seconds.
 */
export async function startRedisCluster(masters: number, replicasPerMaster: number): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'live-redis-cluster-'));
  const procs = new Map<number, ChildProcess>();
  const nodes: RedisClusterNode[] = [];
  const total = masters * (1 + replicasPerMaster);
  for (let i = 0; i < total; i++) nodes.push({ port: await freePort(), running: false });

  const spawnNode = async (node: RedisClusterNode) => {
    const proc = spawn(
      SERVER,
      [
        '--port',
        String(node.port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${node.port}.conf`),
        '--cluster-node-timeout',
        '1000',
        // A shard without a master stops only its own slots (the default stops the whole cluster).
        '--cluster-require-full-coverage',
        'no',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    procs.set(node.port, proc);
    node.running = true;
    await listening(node.port, 10_000);
  };

  const running = () => nodes.filter((n) => n.running);
  const self: RedisCluster = {
    nodes,
    url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    async slotOf(key) {
      return Number(await redisCli(running()[0].port, 'cluster', 'keyslot', key));
    },
    async masterOf(slot) {
      for (const node of running()) {
        const out = await redisCli(node.port, '--json', 'cluster', 'slots').catch(() => '');
        if (!out) continue;
        const ranges = JSON.parse(out) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (range) return range[2][1];
      }
      throw new Error(`no node serves slot ${slot}`);
    },
    async kill(port) {
      const proc = procs.get(port);
      const node = nodes.find((n) => n.port === port);
      if (!proc || !node) return;
      proc.kill('SIGKILL');
      await exited(proc, 5000);
      procs.delete(port);
      node.running = false;
    },
    async restart(port) {
      const node = nodes.find((n) => n.port === port);
      if (node && !node.running) await spawnNode(node);
    },
    async waitOk(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const infos = await Promise.all(
          running().map((n) => redisCli(n.port, 'cluster', 'info').catch(() => '')),
        );
        if (infos.every((i) => i.includes('cluster_state:ok') && i.includes('cluster_slots_ok:16384')))
          return;
        if (Date.now() > deadline)
          throw new Error(`Redis Cluster not ok within ${timeoutMs} ms:\n${infos[0]}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      await Promise.all([...procs.keys()].map((port) => self.kill(port)));
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await Promise.all(nodes.map(spawnNode));
    await run(
      CLI,
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    await self.waitOk(20_000);
  } catch (err) {
    await self.stop();
    throw err;
  }
  return self;
}
