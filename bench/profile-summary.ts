/**
 * `ts-node --transpile-only bench/profile-summary.ts FILE.cpuprofile [N] [SKIP_MS]`: the N functions
 * with the most self time in a V8 CPU profile (what `node --cpu-prof` writes), and self time per package.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function where(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.includes('/dist/src/')) return 'live:' + url.slice(url.indexOf('/dist/src/') + 10).split('/')[0];
  if (url.startsWith('node:')) return 'node-core';
  return url === '' ? '(native/gc/idle)' : url;
}

/** Self time per function and package; samples in the first `skipMs` (start-up) are left out. */
export function summarize(profile: CpuProfile, top = 25, skipMs = 0): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let elapsed = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    elapsed += profile.timeDeltas[i] ?? 0;
    if (elapsed < skipMs * 1000) continue;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const f = n.callFrame;
    const short = f.url.replace(/^.*\/(node_modules|dist)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'}  ${short}:${f.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const p = where(f.url);
    pkg.set(p, (pkg.get(p) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const lines = [`total sampled: ${(total / 1e6).toFixed(2)} s`, '', 'self time by package:'];
  for (const [k, v] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, 12)) lines.push(`  ${pct(v)}  ${k}`);
  lines.push('', `top ${top} functions by self time:`);
  for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(v)}  ${k}`);
  return lines.join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: profile-summary.ts FILE.cpuprofile [TOP_N] [SKIP_FIRST_MS]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  console.log(summarize(profile, Number(process.argv[3] ?? 25), Number(process.argv[4] ?? 0)));
}
