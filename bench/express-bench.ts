/**
 * The server package's cost: a plain Express JSON handler, the same with the stock
 * OpenTelemetry Node setup (http + express instrumentations, batch processor, OTLP/HTTP),
 * and with variant-lens/node as in the README's quick start (middleware, assignment, request
 * span, impressions and latency), side by side; beside them the quick start's floor (what any
 * implementation of it costs without telemetry: the handler in an async context behind a
 * mounted middleware, the experiment data in the response; `express-app.ts`) and its bound
 * (the same spans and records written by hand for this one route, the least any
 * implementation of the same telemetry could cost; `express-bound.ts`). The apps run at once and take turns,
 * round by round, under 50 connections. Telemetry goes as OTLP/HTTP protobuf to a sink in a
 * process of its own (`express-sink.ts`) that answers 200 and only counts what each setup
 * sent: the figures are the apps' own cost, with the load generator (this process) and the
 * sink beside them on the same machine. What a setup did not export (a batch processor
 * that dropped spans) shows as fewer spans per request. Each closed-loop round also reads the
 * app's CPU per request (from /proc) and the load generator's own CPU, so a run shows whether
 * the app or the load generator bounded the throughput.
 */
import autocannon from 'autocannon';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { median, PROJECT_ROOT, printTable, writeResult } from './bench-lib.js';
import { canMeasureCpu, treeCpuSeconds } from './process-cpu.js';

/**
 * More builds' variant-lens setups beside this one's (BENCH_EXPRESS_BUILDS: project folders
 * holding a built `dist/`, e.g. the previous commit), each as the setup `variant-lens@<folder>`.
 */
const OTHER_BUILDS = (process.env.BENCH_EXPRESS_BUILDS ?? '').split(',').map((f) => f.trim()).filter(Boolean);
const MODES: readonly string[] = ['plain', 'floor', 'bound', 'stock', 'variant-lens', ...OTHER_BUILDS.map((folder) => `variant-lens@${folder}`)];
const CONNECTIONS = 50;
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 6);
/**
 * Rounds of the closed loop. On a shared machine the load of the neighbours moves between
 * rounds: more, shorter rounds, each setup's throughput divided by plain's of the same round,
 * and the median of those ratios is the figure least moved by it (the ratio of the means is
 * printed beside it).
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP_SECONDS = 3;
const USERS = 5000;
/** Requests/s of the CPU rounds: well below what the slowest setup serves, so every setup gets the same work. */
const CPU_RATE = Number(process.env.BENCH_EXPRESS_CPU_RATE ?? 500);
const CPU_ROUND_SECONDS = 5;

/**
 * BENCH_EXPRESS_PIN=1 (Linux, 2 CPUs or more): the app being measured gets the last CPU to
 * itself (`taskset`), the load generator and the sink the others, as an app would run on a
 * server of its own. Unpinned, the three share every core and the closed loop measures their
 * contention as much as the app.
 */
const PINNED = process.env.BENCH_EXPRESS_PIN === '1' && cpus().length >= 2;
const APP_CPU = String(cpus().length - 1);
const OTHER_CPUS = cpus().length > 2 ? `0-${cpus().length - 2}` : '0';

function startProcess(script: string, setup: string, collectorUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const [mode, folder] = setup.split('@');
  const root = folder === undefined ? PROJECT_ROOT : resolve(PROJECT_ROOT, folder);
  const args = [join(root, `dist/bench/${script}`), mode!];
  // taskset execs node in its own process: the child's pid is the app's, for its CPU figures.
  const [command, commandArgs] = PINNED && script === 'express-app.js' ? ['taskset', ['-c', APP_CPU, process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(command, commandArgs, {
    cwd: root,
    env: { ...process.env, COLLECTOR_URL: collectorUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\d+)/.exec(output);
      if (match !== null) resolve({ child, url: `http://127.0.0.1:${match[1]}` });
    });
    child.once('exit', (code) => reject(new Error(`the ${mode} process exited with ${code}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }
  });
}

const served: Record<string, number> = {};

async function load(url: string, seconds: number, overallRate?: number): Promise<{ requestsPerSecond: number; p50Ms: number; p99Ms: number; errors: number; requests: number }> {
  let n = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    ...(overallRate === undefined ? {} : { overallRate }),
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: `/api/recommendations?userId=u${(n++ % USERS) + 1}` }) }],
  });
  served[url] = (served[url] ?? 0) + result.requests.total;
  return { requestsPerSecond: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99, errors: result.errors + result.non2xx, requests: result.requests.total };
}

export async function runExpressBench(): Promise<void> {
  // This process (the load generator, every thread) and the sink it starts keep off the app's CPU.
  if (PINNED) execFileSync('taskset', ['-a', '-p', '-c', OTHER_CPUS, String(process.pid)], { stdio: 'ignore' });
  const sink = await startProcess('express-sink.js', 'sink', '');
  const apps = Object.fromEntries(await Promise.all(MODES.map(async (mode) => [mode, await startProcess('express-app.js', mode, `${sink.url}/${encodeURIComponent(mode)}`)] as const)));
  try {
    for (const mode of MODES) await load(apps[mode]!.url, WARMUP_SECONDS);
    const rounds: { mode: string; round: number; requestsPerSecond: number; p50Ms: number; p99Ms: number; errors: number; loadGeneratorCores: number; appCpuUsPerRequest: number }[] = [];
    const measureCpu = canMeasureCpu();
    for (let round = 1; round <= ROUNDS; round += 1) {
      // A different order each round, so no setup always runs first or last.
      const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]!);
      for (const mode of order) {
        // The load generator's own CPU (this process), in cores: near 1, it and not the app would bound the throughput.
        const before = process.cpuUsage();
        // The app's own CPU per request under the closed loop: every setup saturated alike, so
        // this is the cost that bounds its throughput on a core of its own.
        const pid = apps[mode]!.child.pid!;
        const appBefore = measureCpu ? treeCpuSeconds(pid) : 0;
        const { requestsPerSecond, p50Ms, p99Ms, errors, requests } = await load(apps[mode]!.url, ROUND_SECONDS);
        const appCpuUsPerRequest = measureCpu ? Math.round(((treeCpuSeconds(pid) - appBefore) * 1e6) / Math.max(1, requests)) : 0;
        const used = process.cpuUsage(before);
        rounds.push({ mode, round, requestsPerSecond, p50Ms, p99Ms, errors, loadGeneratorCores: Number(((used.user + used.system) / 1e6 / ROUND_SECONDS).toFixed(2)), appCpuUsPerRequest });
      }
    }
    // The same work for every setup at a fixed rate, and the CPU its process used for it: on a
    // shared machine this moves far less than the closed-loop throughput above.
    const cpuRounds: { mode: string; round: number; requests: number; cpuUsPerRequest: number }[] = [];
    if (canMeasureCpu()) {
      for (let round = 1; round <= ROUNDS; round += 1) {
        for (const mode of MODES.map((_, i) => MODES[(i + round) % MODES.length]!)) {
          const pid = apps[mode]!.child.pid!;
          const before = treeCpuSeconds(pid);
          const { requests } = await load(apps[mode]!.url, CPU_ROUND_SECONDS, CPU_RATE);
          cpuRounds.push({ mode, round, requests, cpuUsPerRequest: Math.round(((treeCpuSeconds(pid) - before) * 1e6) / requests) });
        }
      }
    }
    const mean = (mode: string, field: 'requestsPerSecond' | 'p50Ms' | 'p99Ms') => {
      const values = rounds.filter((r) => r.mode === mode).map((r) => r[field]);
      return values.reduce((a, b) => a + b, 0) / values.length;
    };
    const plain = mean('plain', 'requestsPerSecond');
    const cpu = (mode: string) => median(cpuRounds.filter((r) => r.mode === mode).map((r) => r.cpuUsPerRequest));
    const plainOf = (round: number) => rounds.find((r) => r.mode === 'plain' && r.round === round)!.requestsPerSecond;
    const roundRatios = (mode: string) => rounds.filter((r) => r.mode === mode).map((r) => r.requestsPerSecond / plainOf(r.round));
    const plainCpuOf = (round: number) => rounds.find((r) => r.mode === 'plain' && r.round === round)!.appCpuUsPerRequest;
    const cpuRatios = (mode: string) => rounds.filter((r) => r.mode === mode).map((r) => plainCpuOf(r.round) / Math.max(1, r.appCpuUsPerRequest));
    const summary = MODES.map((mode) => ({
      setup: mode,
      requestsPerSecond: Math.round(mean(mode, 'requestsPerSecond')),
      vsPlain: Number(median(roundRatios(mode)).toFixed(3)),
      vsPlainOfMeans: Number((mean(mode, 'requestsPerSecond') / plain).toFixed(3)),
      vsPlainRounds: roundRatios(mode).map((r) => r.toFixed(2)).join(' '),
      ...(measureCpu
        ? { closedLoopCpuUs: median(rounds.filter((r) => r.mode === mode).map((r) => r.appCpuUsPerRequest)), closedLoopCpuVsPlain: Number(median(cpuRatios(mode)).toFixed(3)) }
        : {}),
      p50Ms: Number(mean(mode, 'p50Ms').toFixed(1)),
      p99Ms: Number(mean(mode, 'p99Ms').toFixed(1)),
      errors: rounds.filter((r) => r.mode === mode).reduce((a, r) => a + r.errors, 0),
      ...(cpuRounds.length > 0 ? { cpuUsPerRequest: cpu(mode), cpuVsPlain: Number((cpu('plain') / cpu(mode)).toFixed(3)) } : {}),
    }));
    printTable(`Express JSON handler, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${ROUND_SECONDS} s each${PINNED ? `, each app alone on CPU ${APP_CPU}` : ''}; vsPlain = median over rounds of the setup's req/s / plain's in the same round (target: variant-lens >= 0.85x plain, ahead of stock; floor: the quick start without telemetry; bound: its telemetry hand-written for this route)`, summary);
    printTable('Rounds', rounds.map((r) => ({ ...r, requestsPerSecond: Math.round(r.requestsPerSecond) })));
    if (cpuRounds.length > 0) printTable(`CPU rounds: ${CPU_RATE} requests/s for ${CPU_ROUND_SECONDS} s each; cpuVsPlain above = plain's CPU per request / the setup's (median)`, cpuRounds);
    // Each app exports what it still holds as it stops; then the sink's counts are complete.
    await Promise.all(Object.values(apps).map(({ child }) => stop(child)));
    const received = (await (await fetch(`${sink.url}/stats`)).json()) as Record<string, { exports: number; bytes: number; spans: number }>;
    const exported = MODES.map((mode) => {
      const requests = served[apps[mode]!.url] ?? 0;
      const counts = received[mode] ?? { exports: 0, bytes: 0, spans: 0 };
      return { setup: mode, requests, exports: counts.exports, spans: counts.spans, spansPerRequest: Number((counts.spans / Math.max(1, requests)).toFixed(3)), bytesPerRequest: Math.round(counts.bytes / Math.max(1, requests)) };
    });
    printTable('What each setup exported (warm-up included)', exported);
    console.log(`written ${writeResult('express', { pinned: PINNED, connections: CONNECTIONS, roundSeconds: ROUND_SECONDS, summary, rounds, cpuRate: CPU_RATE, cpuRounds, exported })}`);
  } finally {
    await Promise.all([...Object.values(apps), sink].map(({ child }) => stop(child)));
  }
}
