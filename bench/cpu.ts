/**
 * CPU and memory of processes, read from /proc: the server's process tree, its RSS, and the CPU
 * time the server, PostgreSQL's backends and the load generator spend around a measured run.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** A process and its children (a cluster primary and its workers). */
export function processTree(pid: number): number[] {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(entry)[1]) === pid) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** RSS of a process and its children (KiB). */
export function rssOf(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (match) total += Number(match[1]);
    } catch {
      // gone
    }
  }
  return total;
}

/** CPU time (ms) a process has used (user + system); 0 once it is gone. */
export function cpuOf(pid: number): number {
  try {
    const fields = statFields(pid);
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
  } catch {
    return 0;
  }
}

/** Where the processes to account for are: the server's, and PostgreSQL's backends serving it. */
export interface CpuProbe {
  server(): number[];
  backends(): Promise<number[]>;
}

/** CPU (ms) used so far per process: the server's, PostgreSQL's, and this process's own (the load generator). */
export interface CpuSnapshot {
  server: Map<number, number>;
  backends: Map<number, number>;
  client: number;
}

/** Takes a snapshot of the CPU the probed processes and this process have used so far. */
export async function cpuSnapshot(probe: CpuProbe): Promise<CpuSnapshot> {
  const server = new Map(probe.server().map((pid) => [pid, cpuOf(pid)]));
  const backends = new Map((await probe.backends()).map((pid) => [pid, cpuOf(pid)]));
  const own = process.cpuUsage();
  return { server, backends, client: (own.user + own.system) / 1000 };
}

/** CPU (ms) used between two snapshots by the processes alive at the second (new ones count from 0). */
export function cpuUsed(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of after) total += cpu - (before.get(pid) ?? 0);
  return total;
}
