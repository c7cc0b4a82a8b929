/** CPU time of a process and all its descendants (threads included), from Linux's /proc. */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

function stat(pid: string): { ppid: number; ticks: number } | undefined {
  try {
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** True where /proc can be read (Linux). */
export function canMeasureCpu(): boolean {
  return stat(String(process.pid)) !== undefined;
}

/** CPU seconds used so far by `pid` alone (all its threads). */
export function processCpuSeconds(pid: number): number {
  return (stat(String(pid))?.ticks ?? 0) / TICKS_PER_SECOND;
}

/** CPU seconds used so far by `pid` and every process below it. */
export function treeCpuSeconds(pid: number): number {
  const all = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const name of all) {
    const s = stat(name);
    if (s === undefined) continue;
    ticks.set(Number(name), s.ticks);
    const list = children.get(s.ppid) ?? [];
    list.push(Number(name));
    children.set(s.ppid, list);
  }
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const next = stack.pop()!;
    total += ticks.get(next) ?? 0;
    stack.push(...(children.get(next) ?? []));
  }
  return total / TICKS_PER_SECOND;
}
