import { readFileSync } from 'node:fs';

/** Linux clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every mainstream kernel). */
const CLK_TCK = 100;

export interface ProcSample {
  /** Resident set size, KiB (VmRSS). */
  rssKiB: number;
  /** User + system CPU time, seconds. */
  cpuSeconds: number;
}

/** RSS and CPU time of one process from /proc; null when it is gone or /proc is not Linux's. */
export function sampleProcess(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]); // field 14
    const stime = Number(fields[12]); // field 15
    if (!rss || !Number.isFinite(utime) || !Number.isFinite(stime)) return null;
    return { rssKiB: Number(rss[1]), cpuSeconds: (utime + stime) / CLK_TCK };
  } catch {
    return null;
  }
}

/** The sum over several processes (one target may be two instances); null if any is unreadable. */
export function sampleProcesses(pids: number[]): ProcSample | null {
  if (pids.length === 0) return null;
  let rssKiB = 0;
  let cpuSeconds = 0;
  for (const pid of pids) {
    const s = sampleProcess(pid);
    if (!s) return null;
    rssKiB += s.rssKiB;
    cpuSeconds += s.cpuSeconds;
  }
  return { rssKiB, cpuSeconds };
}
