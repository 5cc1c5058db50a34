/**
 * `npm run bench [-- options]`: runs the scenarios against each target, prints one JSON line per
 * run and a table of medians with live's ratios, and regenerates bench/RESULTS.md.
 * `--url ws://host:port` points the load generator at a server you run yourself instead.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad, type LoadResult } from './load';
import { runScale, type ScaleResult } from './scale';
import { loginBurst, sessionCookie, startLoginBurstProcess } from './login-burst';
import { SCENARIOS, type Scenario } from './scenarios';
import {
  BENCH_USER,
  buildLive,
  EXTRA_TARGETS,
  ROOT,
  TARGETS,
  type RunningTarget,
  type Target,
} from './targets';

const USAGE = `usage: npm run bench -- [options]
  --scenario a,b,c,d,login,e scenarios to run (default: all); e: 100,000+ sockets (bench/scale.ts)
  --scale-sockets N          (e) with at most N sockets (the small rooms are cut; default: all that
                             the open-file limit allows)
  --targets live,live-redis-x2,baseline,socketio,socketio-redis-x2,django,django-redis
                             (default: all available;
                             also baseline-cork: raw ws with write coalescing, an experiment)
  --runs N                   runs per scenario and target; the table shows medians (default 3)
  --quick                    small sizes: a smoke test of the tool
  --messages-scale N         each sender of a message scenario (a, b, d, login) sends N times its
                             messages: runs of seconds instead of under one (steadier figures for
                             profiling and for comparing two builds; not written to RESULTS.md)
  --url ws://host:port[,ws://host2:port]   load an already-running deployment instead of the targets
  --pid PID[,PID]            with --url: server processes to sample in /proc (RSS, CPU)
  --cpu-prof                 run live with node --cpu-prof (profiles in bench/profiles/)
  --live-env KEY=VALUE[,KEY=VALUE]  extra environment for live (e.g. UV_THREADPOOL_SIZE=1)
  --out FILE                 also append the JSON lines to FILE (a bare name: bench/results/FILE)
  --results FILE             write the Markdown report there (default: bench/RESULTS.md, written only by
                             a complete run: all scenarios and targets, no --quick, --url or --live-env)
  --no-build                 use the existing dist/ build of live
  --from FILE                no runs: rebuild the table and report from JSON lines saved with --out
                             (a bare name: bench/results/FILE)
  --command TEXT             with --from: the command that produced them, for the report`;

/** Saved runs live in bench/results/: a bare file name goes there, a path is taken as given. */
function resultsFile(name: string): string {
  return name.includes('/') ? resolve(name) : resolve(ROOT, 'bench/results', name);
}

interface RunRecord {
  scenario: string;
  target: string;
  run: number;
  result?: LoadResult;
  error?: string;
  /** Scenario (e): the layout and the per-socket costs its phases share. */
  scale?: Omit<ScaleResult, 'parts'>;
}

interface Summary {
  scenario: string;
  target: string;
  runs: number;
  errors: number;
  connections: number;
  connectFailures: number;
  connectsPerSec: number;
  deliveriesPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  lost: number;
  duplicated: number;
  misrouted: number;
  /** Sockets the server closed during the runs (summed), e.g. 1001 when it shut down. */
  closedByServer: number;
  rssPerConnectionKiB: number | null;
  serverCpuSeconds: number | null;
  /** Server CPU time per delivered message, µs: less sensitive to a busy machine than deliveries/s. */
  cpuUsPerDelivery: number | null;
  loginBurstSeconds?: number;
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summarize(records: RunRecord[], scenario: string, target: string): Summary | null {
  const mine = records.filter((r) => r.scenario === scenario && r.target === target);
  if (mine.length === 0) return null;
  const ok = mine.filter((r) => r.result).map((r) => r.result as LoadResult);
  const med = (f: (r: LoadResult) => number | null | undefined) => {
    const v = ok.map(f).filter((x): x is number => typeof x === 'number');
    return v.length ? median(v) : NaN;
  };
  const sum = (f: (r: LoadResult) => number) => ok.reduce((a, r) => a + f(r), 0);
  const burst = med((r) => r.side?.burstSeconds as number | undefined);
  return {
    scenario,
    target,
    runs: mine.length,
    errors: mine.length - ok.length,
    connections: med((r) => r.connections),
    connectFailures: sum((r) => r.connectFailures),
    connectsPerSec: med((r) => r.connectsPerSec),
    deliveriesPerSec: med((r) => r.deliveriesPerSec),
    p50: med((r) => r.latencyMs?.p50),
    p90: med((r) => r.latencyMs?.p90),
    p99: med((r) => r.latencyMs?.p99),
    max: med((r) => r.latencyMs?.max),
    lost: sum((r) => r.lost),
    duplicated: sum((r) => r.duplicated),
    misrouted: sum((r) => r.misrouted),
    closedByServer: sum((r) => Object.values(r.closedByServer).reduce((a, b) => a + b, 0)),
    rssPerConnectionKiB: ok.some((r) => r.server) ? med((r) => r.server?.rssPerConnectionKiB) : null,
    serverCpuSeconds: ok.some((r) => r.server) ? med((r) => r.server?.cpuSecondsMessages) : null,
    cpuUsPerDelivery: ok.some((r) => r.server && r.delivered > 0)
      ? med((r) => (r.server && r.delivered > 0 ? (r.server.cpuSecondsMessages * 1e6) / r.delivered : null))
      : null,
    ...(Number.isFinite(burst) ? { loginBurstSeconds: burst } : {}),
  };
}

const fmt = (x: number | null | undefined, digits = 0): string =>
  x === null || x === undefined || Number.isNaN(x)
    ? '–'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits });

/** A ratio with a fixed number of decimals, so 0.998 never reads as 1. */
const fx = (x: number, digits = 3): string => (Number.isNaN(x) ? '–' : x.toFixed(digits));

function table(rows: Summary[]): string {
  const head = [
    'scenario',
    'target',
    'runs',
    'conn',
    'conn fail',
    'conn/s',
    'deliv/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'max ms',
    'lost',
    'dup',
    'misr',
    'closed',
    'KiB/conn',
    'srv CPU s',
    'CPU µs/deliv',
  ];
  const body = rows.map((r) => [
    r.scenario,
    r.target,
    `${r.runs}${r.errors ? ` (${r.errors} err)` : ''}`,
    fmt(r.connections),
    fmt(r.connectFailures),
    fmt(r.connectsPerSec),
    fmt(r.deliveriesPerSec),
    fmt(r.p50, 2),
    fmt(r.p90, 2),
    fmt(r.p99, 2),
    fmt(r.max, 1),
    fmt(r.lost),
    fmt(r.duplicated),
    fmt(r.misrouted),
    fmt(r.closedByServer),
    fmt(r.rssPerConnectionKiB, 1),
    fmt(r.serverCpuSeconds, 2),
    fmt(r.cpuUsPerDelivery, 1),
  ]);
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...body.map((b) => `| ${b.join(' | ')} |`),
  ].join('\n');
}

interface Check {
  target: string;
  measured: string;
  verdict: 'pass' | 'FAIL' | 'n/a';
}

function ratio(a: number | undefined, b: number | undefined): number {
  return a !== undefined && b !== undefined && b > 0 ? a / b : NaN;
}

/** The issue's targets, checked against the medians of this invocation. */
function checks(rows: Summary[]): Check[] {
  const get = (s: string, t: string) => rows.find((r) => r.scenario === s && r.target === t);
  const out: Check[] = [];
  const add = (target: string, value: number, ok: (v: number) => boolean, measured: string) =>
    out.push({ target, measured, verdict: Number.isNaN(value) ? 'n/a' : ok(value) ? 'pass' : 'FAIL' });
  for (const s of ['a', 'b']) {
    const r = ratio(get(s, 'live')?.deliveriesPerSec, get(s, 'baseline')?.deliveriesPerSec);
    add(`(${s}) live deliveries/s ≥ 1.0× baseline`, r, (v) => v >= 1.0, `${fx(r)}×`);
  }
  const p = ratio(get('d', 'live')?.p99, get('d', 'baseline')?.p99);
  add('(d) live p99 ≤ 1.5× baseline', p, (v) => v <= 1.5, `${fx(p)}×`);
  const liveRows = rows.filter((r) => r.target === 'live' && r.scenario !== 'login');
  const liveLoss = liveRows.reduce((a, r) => a + r.lost + r.duplicated + r.misrouted, 0);
  add(
    'live in-memory: 0 lost, 0 duplicated',
    liveRows.length ? liveLoss : NaN,
    (v) => v === 0,
    `${liveLoss}`,
  );
  const redisRows = rows.filter((r) => r.target === 'live-redis-x2');
  const redisLoss = redisRows.reduce((a, r) => a + r.lost + r.duplicated + r.misrouted, 0);
  add(
    'live ×2 on Redis: 0 lost or duplicated',
    redisRows.length ? redisLoss : NaN,
    (v) => v === 0,
    `${redisLoss}`,
  );
  for (const s of ['a', 'b']) {
    const r = ratio(get(s, 'live-redis-x2')?.deliveriesPerSec, get(s, 'live')?.deliveriesPerSec);
    add(`(${s}) Redis ×2 deliveries/s ≥ 0.5× in-memory`, r, (v) => v >= 0.5, `${fx(r)}×`);
  }
  const dj = ratio(get('a', 'live')?.deliveriesPerSec, get('a', 'django')?.deliveriesPerSec);
  add('(a) live ≥ 10× Django Channels (in-memory)', dj, (v) => v >= 10, `${fx(dj, 2)}×`);
  const c = get('c', 'live');
  const held = c ? c.connections : NaN;
  add('(c) 10,000 sockets held', held, (v) => v >= 10_000 && (c?.connectFailures ?? 1) === 0, `${fmt(held)}`);
  const rss = c?.rssPerConnectionKiB ?? NaN;
  add('(c) RSS ≤ 16 KiB per socket', rss, (v) => v <= 16, `${fmt(rss, 1)} KiB`);
  const cr = ratio(c?.connectsPerSec, get('c', 'baseline')?.connectsPerSec);
  add('(c) connect rate ≥ 0.8× baseline', cr, (v) => v >= 0.8, `${fx(cr)}×`);
  const lr = ratio(get('login', 'live')?.p99, get('d', 'live')?.p99);
  add('login burst raises (d) p99 ≤ 2×', lr, (v) => v <= 2, `${fx(lr)}×`);
  // Issue 23.
  for (const s of ['a', 'b']) {
    const r = ratio(get(s, 'live-redis-x2')?.deliveriesPerSec, get(s, 'live')?.deliveriesPerSec);
    add(`(${s}) Redis ×2 deliveries/s ≥ 0.8× in-memory (issue 23)`, r, (v) => v >= 0.8, `${fx(r)}×`);
  }
  const e = get('e1', 'live');
  const eHeld = e ? e.connections : NaN;
  add(
    '(e) sockets held on one instance, 0 connect failures (100,000 asked)',
    eHeld,
    (v) => v >= 100_000 && (e?.connectFailures ?? 1) === 0,
    `${fmt(eHeld)}, ${fmt(e?.connectFailures)} failed`,
  );
  const eRss = e?.rssPerConnectionKiB ?? NaN;
  add('(e) RSS ≤ 8 KiB per socket', eRss, (v) => v <= 8, `${fmt(eRss, 1)} KiB`);
  return out;
}

function ratioLines(rows: Summary[]): string[] {
  const lines: string[] = [];
  const get = (s: string, t: string) => rows.find((r) => r.scenario === s && r.target === t);
  for (const s of ['a', 'b', 'c', 'd', 'e1', 'e2']) {
    const live = get(s, 'live');
    if (!live) continue;
    for (const ref of ['baseline', 'socketio', 'django', 'django-redis']) {
      const o = get(s, ref);
      if (!o) continue;
      const parts =
        s === 'c'
          ? [`connect rate ${fx(ratio(live.connectsPerSec, o.connectsPerSec))}×`]
          : [
              `deliveries/s ${fx(ratio(live.deliveriesPerSec, o.deliveriesPerSec))}×`,
              `p99 ${fx(ratio(live.p99, o.p99))}×`,
              `server CPU per delivery ${fx(ratio(live.cpuUsPerDelivery ?? NaN, o.cpuUsPerDelivery ?? NaN))}×`,
            ];
      if (live.rssPerConnectionKiB !== null && o.rssPerConnectionKiB !== null && s === 'c')
        parts.push(`RSS/socket ${fmt(live.rssPerConnectionKiB, 1)} vs ${fmt(o.rssPerConnectionKiB, 1)} KiB`);
      lines.push(`(${s}) live / ${ref}: ${parts.join(', ')}`);
    }
    const redis = get(s, 'live-redis-x2');
    if (redis && s !== 'c')
      lines.push(
        `(${s}) live-redis-x2 / live: deliveries/s ${fx(ratio(redis.deliveriesPerSec, live.deliveriesPerSec))}×`,
      );
    const sioRedis = get(s, 'socketio-redis-x2');
    if (redis && sioRedis && (s === 'a' || s === 'b'))
      lines.push(
        `(${s}) live-redis-x2 / socketio-redis-x2: deliveries/s ${fx(ratio(redis.deliveriesPerSec, sioRedis.deliveriesPerSec))}×`,
      );
  }
  return lines;
}

function fdLimit(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

const NOTES_START = '<!-- notes:start (kept when the tool rewrites this file) -->';
const NOTES_END = '<!-- notes:end -->';

function writeResults(
  path: string,
  command: string,
  facts: Record<string, string>,
  rows: Summary[],
  scenarios: Scenario[],
  skipped: string[],
  scaleNotes: string[] = [],
): void {
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const a = old.indexOf(NOTES_START);
  const b = old.indexOf(NOTES_END);
  const notes = a >= 0 && b > a ? old.slice(a + NOTES_START.length, b).trim() : '_No profile notes yet._';
  const md = [
    '# Benchmark results',
    '',
    'Generated by `npm run bench` (bench/run.ts); the notes section at the end is kept across runs.',
    '',
    '## Command',
    '',
    '```',
    command,
    '```',
    '',
    '## Machine',
    '',
    ...Object.entries(facts).map(([k, v]) => `- ${k}: ${v}`),
    '',
    '## Scenarios',
    '',
    ...scenarios.map(
      (s) =>
        `- **${s.id}**: ${s.title}` +
        (s.warmup
          ? ` (measured after a warm-up with the quick load and ${s.warmup.settleMs / 1000} s of rest)`
          : ''),
    ),
    '',
    'Deliveries/s = messages received by all clients / (last delivery − first send). Latency = receive time',
    '− send time embedded in each message, same process, monotonic clock. KiB/conn = server RSS after',
    'connecting minus RSS before, per socket. srv CPU s = server CPU seconds during the message phase.',
    'Lost/dup/misr/closed (sockets the server closed mid-run) are summed over the runs; everything',
    'else is the median of the runs. CPU µs/deliv = server CPU time / deliveries: the figure least',
    'disturbed by other work on the machine.',
    '',
    ...(scaleNotes.length ? ['Scenario (e) as run here:', '', ...scaleNotes.map((n) => `- ${n}`), ''] : []),
    '## Medians',
    '',
    table(rows),
    '',
    '## Ratios',
    '',
    ...ratioLines(rows).map((l) => `- ${l}`),
    '',
    '## Targets of the issues (5, 23)',
    '',
    '| target | measured | verdict |',
    '|---|---|---|',
    ...checks(rows).map((c) => `| ${c.target} | ${c.measured} | ${c.verdict} |`),
    '',
    ...(skipped.length ? ['## Skipped targets', '', ...skipped.map((s) => `- ${s}`), ''] : []),
    '## Notes and profiles',
    '',
    NOTES_START,
    notes,
    NOTES_END,
    '',
  ].join('\n');
  writeFileSync(path, md);
}

/**
 * Scenario (e): its own target start (one per run, as for the others), bench/scale.ts's forked load
 * generators, and one record per broadcast phase.
 */
async function runScaleScenario(
  scenario: Scenario,
  target: Target,
  run: number,
  o: { quick: boolean; loggedIn: boolean; maxSockets?: number; cpuProfDir?: string },
): Promise<RunRecord[]> {
  const scale = scenario.scale;
  if (!scale) return [];
  let running: RunningTarget | undefined;
  try {
    const live = target.name.startsWith('live');
    running = await target.start({
      passwordIterations: 1_000_000,
      withUser: o.loggedIn && live,
      cpuProfDir: o.cpuProfDir,
    });
    const headers =
      o.loggedIn && live
        ? { cookie: await sessionCookie(running.httpUrl, BENCH_USER.username, BENCH_USER.password) }
        : undefined;
    const result = await runScale(o.quick ? scale.quick : scale.full, {
      urls: running.urls,
      pids: running.pids,
      headers,
      protocol: (running as { protocol?: 'plain' | 'socketio' }).protocol,
      maxSockets: o.maxSockets,
    });
    const { parts, ...shared } = result;
    return scale.parts
      .filter((part) => parts[part])
      .map((part) => ({ scenario: part, target: target.name, run, result: parts[part], scale: shared }));
  } catch (err) {
    return scale.parts.map((part) => ({
      scenario: part,
      target: target.name,
      run,
      error: (err as Error).message,
    }));
  } finally {
    await running
      ?.stop()
      .catch((err: Error) => console.error(`bench: stopping ${target.name}: ${err.message}`));
  }
}

/** What (e) was, per target: its layout, whether it was cut and why, its per-socket costs. */
function scaleNotes(records: RunRecord[]): string[] {
  const byTarget = new Map<string, RunRecord[]>();
  for (const r of records)
    if (r.scale && r.scenario === 'e1') byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r]);
  const notes: string[] = [];
  for (const [target, runs] of byTarget) {
    const first = runs[0].scale!;
    const med = (f: (r: RunRecord) => number | null | undefined) => {
      const v = runs.map(f).filter((x): x is number => typeof x === 'number');
      return v.length ? median(v) : NaN;
    };
    notes.push(
      `${target}: ${fmt(first.layout.sockets)} sockets (1 room of ${fmt(first.layout.bigRoom)}, ` +
        `${first.layout.smallRooms} rooms of ${first.layout.smallRoomSize}) from ${first.layout.workers} ` +
        `load-generator processes; server CPU per connect ${fmt(med((r) => r.scale?.connectCpuUsPerSocket))} µs, ` +
        `idle CPU per socket ${fmt(
          med((r) => r.scale?.idleCpuUsPerSocketSecond),
          2,
        )} µs/s` +
        (first.cut ? `; cut: ${first.cut}` : ''),
    );
  }
  return notes;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      targets: { type: 'string' },
      runs: { type: 'string', default: '3' },
      quick: { type: 'boolean', default: false },
      'messages-scale': { type: 'string', default: '1' },
      'logged-in': { type: 'boolean', default: false },
      url: { type: 'string' },
      pid: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'scale-sockets': { type: 'string' },
      out: { type: 'string' },
      'live-env': { type: 'string' },
      results: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      from: { type: 'string' },
      command: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const outFile = values.out ? resultsFile(values.out) : undefined;
  const fromFile = values.from ? resultsFile(values.from) : undefined;
  if (outFile) mkdirSync(dirname(outFile), { recursive: true });
  const messagesScale = Number(values['messages-scale']);
  if (!Number.isInteger(messagesScale) || messagesScale < 1 || messagesScale > 1000)
    throw new Error('--messages-scale must be an integer 1..1000');
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error('--runs must be an integer 1..50');
  const wanted = values.scenario
    ? values.scenario.split(',').map((s) => s.trim())
    : SCENARIOS.map((s) => s.id);
  const unknown = wanted.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length)
    throw new Error(
      `unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`,
    );
  const scenarios = SCENARIOS.filter((s) => wanted.includes(s.id));

  const liveEnv: Record<string, string> = {};
  for (const pair of values['live-env'] ? values['live-env'].split(',') : []) {
    const m = /^([A-Z][A-Z0-9_]{0,63})=(.*)$/.exec(pair.trim());
    if (!m) throw new Error(`--live-env ${pair}: expected KEY=VALUE`);
    liveEnv[m[1]] = m[2];
  }
  const skipped: string[] = [];
  let targets: Target[];
  if (values.url) {
    const urls = values.url.split(',').map((u) => u.trim());
    for (const u of urls)
      if (!/^wss?:\/\/[^/\s]+\/?$/.test(u)) throw new Error(`--url ${u}: expected ws://host:port`);
    const pids = values.pid ? values.pid.split(',').map(Number) : [];
    if (pids.some((p) => !Number.isInteger(p) || p <= 0)) throw new Error('--pid must be process ids');
    targets = [
      {
        name: 'url',
        unavailable: () => null,
        start: async () => ({
          urls,
          httpUrl: urls[0].replace(/^ws/, 'http'),
          pids,
          stop: async () => undefined,
        }),
      },
    ];
  } else {
    const names = values.targets
      ? values.targets.split(',').map((s) => s.trim())
      : TARGETS.map((t) => t.name);
    const known = [...TARGETS, ...EXTRA_TARGETS];
    const bad = names.filter((n) => !known.some((t) => t.name === n));
    if (bad.length)
      throw new Error(`unknown target(s): ${bad.join(', ')}; known: ${known.map((t) => t.name).join(', ')}`);
    if (!values['no-build'] && !values.from && names.some((n) => n.startsWith('live'))) buildLive();
    targets = [];
    for (const t of known.filter((t) => names.includes(t.name))) {
      const why = t.unavailable();
      if (why) {
        skipped.push(`${t.name}: ${why}`);
        console.error(`bench: skipping ${t.name}: ${why}`);
      } else targets.push(t);
    }
  }

  const limit = fdLimit();
  const maxSockets = Math.max(
    ...scenarios
      .filter((s) => !s.scale)
      .map((s) => (values.quick ? s.quick : s.full))
      .map((l) => l.rooms * l.clientsPerRoom),
  );
  const scaleSockets = values['scale-sockets'] ? Number(values['scale-sockets']) : undefined;
  if (scaleSockets !== undefined && (!Number.isInteger(scaleSockets) || scaleSockets < 1000))
    throw new Error('--scale-sockets must be an integer ≥ 1000');
  if (limit < maxSockets + 500)
    console.error(
      `bench: the open-file limit is ${limit}, below the ${maxSockets} sockets of a scenario: raise it (ulimit -n ${maxSockets + 1000})`,
    );

  const facts: Record<string, string> = {
    date: new Date().toISOString(),
    cpus: `${availableParallelism()} × ${cpus()[0]?.model ?? 'unknown'}`,
    node: process.version,
    kernel: release(),
    'load average at start': loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    'open-file limit (ulimit -n)': String(limit),
    'live env':
      'CHAT_RATE=1000000 CHAT_BURST=1000000 (flood limit raised), history on (SQLite / PostgreSQL), LOG_LEVEL=warn' +
      Object.entries(liveEnv)
        .map(([k, v]) => ` ${k}=${v}`)
        .join('') +
      (values['logged-in']
        ? '; live sockets logged in (--logged-in: a session cookie on every handshake)'
        : ''),
  };
  if (messagesScale !== 1) facts['messages per sender'] = `×${messagesScale} (--messages-scale)`;
  const records: RunRecord[] = [];
  /** Written as the last line of --out, so --from can rebuild the report with the original facts. */
  let recorded: { command: string; facts: Record<string, string> } | undefined;
  if (fromFile) {
    for (const line of readFileSync(fromFile, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const parsed = JSON.parse(line) as
        RunRecord | { meta: { command: string; facts: Record<string, string> } };
      if ('meta' in parsed) {
        recorded = parsed.meta;
        continue;
      }
      records.push(parsed);
    }
    const seen = new Set(records.map((r) => r.target));
    targets = [...TARGETS, ...EXTRA_TARGETS].filter((t) => seen.has(t.name));
    facts.date += ` (report rebuilt from ${values.from}; load averages are those of the rebuild)`;
  }
  const args = process.argv.slice(2).join(' ');
  for (let run = 1; run <= (values.from ? 0 : runs); run++) {
    for (const scenario of scenarios) {
      const sized = values.quick ? scenario.quick : scenario.full;
      const load = { ...sized, messagesPerSender: sized.messagesPerSender * messagesScale };
      for (const target of targets) {
        if (scenario.scale) {
          if (!scenario.scale.targets.includes(target.name) && !values.url) continue;
          for (const record of await runScaleScenario(scenario, target, run, {
            quick: values.quick,
            loggedIn: values['logged-in'],
            maxSockets: scaleSockets,
            cpuProfDir: values['cpu-prof'] ? resolve(ROOT, 'bench/profiles', scenario.id) : undefined,
          })) {
            records.push(record);
            const line = JSON.stringify(record);
            console.log(line);
            if (outFile) appendFileSync(outFile, line + '\n');
          }
          continue;
        }
        if (scenario.logins && !target.name.startsWith('live')) continue;
        if (scenario.logins && values.url) continue;
        const record: RunRecord = { scenario: scenario.id, target: target.name, run };
        let running: RunningTarget | undefined;
        let burster: Awaited<ReturnType<typeof startLoginBurstProcess>> | undefined;
        try {
          running = await target.start({
            cpuProfDir: values['cpu-prof'] ? resolve(ROOT, 'bench/profiles', scenario.id) : undefined,
            passwordIterations: 1_000_000,
            withUser: !!scenario.logins || (values['logged-in'] && target.name.startsWith('live')),
            liveEnv,
          });
          const logins = scenario.logins;
          const httpUrl = running.httpUrl;
          // --logged-in: every socket of a live target carries a session cookie (the handshake reads
          // the session, the socket is re-checked while open), as a logged-in browser's would.
          const headers =
            values['logged-in'] && target.name.startsWith('live')
              ? { cookie: await sessionCookie(httpUrl, BENCH_USER.username, BENCH_USER.password) }
              : undefined;
          if (scenario.warmup && !values.quick) {
            // The quick load of the same scenario, its few logins included (a login path that has
            // never run is cold: its first burst costs twice the event-loop time of later ones).
            await runLoad({
              ...scenario.quick,
              urls: running.urls,
              pids: running.pids,
              protocol: running.protocol,
              headers,
              ...(logins
                ? {
                    sideLoad: {
                      delayMs: 0,
                      run: () => loginBurst(httpUrl, BENCH_USER.username, BENCH_USER.password, logins.quick),
                    },
                  }
                : {}),
            });
            await new Promise((r) => setTimeout(r, scenario.warmup?.settleMs));
          }
          // The measured burst comes from its own process, started (and settled) before the run.
          burster = logins
            ? await startLoginBurstProcess(
                httpUrl,
                BENCH_USER.username,
                BENCH_USER.password,
                values.quick ? logins.quick : logins.full,
              )
            : undefined;
          if (burster) await new Promise((r) => setTimeout(r, 2000));
          const fire = burster?.fire;
          record.result = await runLoad({
            ...load,
            urls: running.urls,
            pids: running.pids,
            protocol: running.protocol,
            headers,
            ...(logins && fire ? { sideLoad: { delayMs: logins.delayMs, run: fire } } : {}),
          });
        } catch (err) {
          record.error = (err as Error).message;
        } finally {
          burster?.stop();
          await running
            ?.stop()
            .catch((err: Error) => console.error(`bench: stopping ${target.name}: ${err.message}`));
        }
        records.push(record);
        const line = JSON.stringify(record);
        console.log(line);
        if (outFile) appendFileSync(outFile, line + '\n');
      }
    }
  }
  facts['load average at end'] = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  if (outFile && !values.from)
    appendFileSync(
      outFile,
      JSON.stringify({ meta: { command: `npm run bench${args ? ` -- ${args}` : ''}`, facts } }) + '\n',
    );

  const rows: Summary[] = [];
  for (const s of scenarios)
    for (const id of s.scale?.parts ?? [s.id])
      for (const t of targets) {
        const row = summarize(records, id, t.name);
        if (row) rows.push(row);
      }
  console.log('\n' + table(rows) + '\n');
  for (const l of ratioLines(rows)) console.log(l);
  if (values.quick) console.log('\n(quick sizes: the targets of the issue apply to full runs only)');
  else if (!values.url) {
    console.log('');
    for (const c of checks(rows)) console.log(`${c.verdict.padEnd(4)}  ${c.target}: ${c.measured}`);
  }
  // The committed report is only replaced by a complete invocation: an A/B of a few scenarios, a
  // subset of targets or an experiment's --live-env would otherwise overwrite it.
  const partial =
    values.quick ||
    values.url ||
    values.scenario ||
    values.targets ||
    values['live-env'] ||
    messagesScale !== 1;
  const resultsPath =
    values.results ?? (partial && !values.from ? undefined : resolve(ROOT, 'bench/RESULTS.md'));
  if (resultsPath) {
    const command = recorded
      ? recorded.command
      : values.from
        ? (values.command ?? '(not recorded)')
        : `npm run bench${args ? ` -- ${args}` : ''}`;
    writeResults(
      resultsPath,
      command,
      recorded ? { ...recorded.facts, rebuilt: `from ${values.from}` } : facts,
      rows,
      scenarios,
      skipped,
      scaleNotes(records),
    );
    console.log(`\nbench: wrote ${resultsPath}`);
  }
  if (records.some((r) => r.error)) process.exitCode = 1;
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  console.error(USAGE);
  process.exit(2);
});
