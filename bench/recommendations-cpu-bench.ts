/**
 * What a recommendation costs in CPU, instrumented and with `OTEL_SDK_DISABLED=true`, for
 * this build and for other builds side by side (BENCH_BUILDS: project folders holding a
 * built `dist/`, e.g. a worktree of the previous commit; `.` is this one). Every server —
 * one per build and mode — runs at once; round by round each in turn gets the same fixed
 * rate of requests (BENCH_CPU_RATE, default 80/s, far below what any of them can serve), and
 * the CPU seconds its process tree used (server, ingest threads, feature store) are read from
 * /proc. On a machine shared with other work this holds far better than throughput: a
 * closed-loop requests/s figure moves with whatever else runs, the CPU a request takes much
 * less. The scenarios are the recommendations benchmark's (`warm`, `cold`).
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, PROJECT_ROOT, printTable, writeResult } from './bench-lib.js';
import { canMeasureCpu, processCpuSeconds, treeCpuSeconds } from './process-cpu.js';
import { chosenScenarios, USERS, type Scenario } from './recommendations-bench.js';

const RATE = Number(process.env.BENCH_CPU_RATE ?? 80);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 10;
const MODES = ['instrumented', 'OTEL_SDK_DISABLED'] as const;
const START_TIMEOUT_MS = 60_000;

interface Server {
  readonly build: string;
  readonly mode: (typeof MODES)[number];
  readonly child: ChildProcess;
  readonly url: string;
  readonly dataDir: string;
}

/** The demo server of the build in `root`, as `npm start` runs it, with retention off. */
function startBuild(root: string, build: string, mode: Server['mode'], env: Record<string, string>): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'variant-lens-cpu-'));
  const child = spawn(process.execPath, [join(root, 'dist/server/src/index.js')], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      FEATURE_STORE_PORT: '0',
      DATA_DIR: dataDir,
      RETENTION_MAX_AGE_HOURS: '0',
      RETENTION_MAX_SPANS: '0',
      METRIC_INTERVAL_MS: '5000',
      ...(mode === 'OTEL_SDK_DISABLED' ? { OTEL_SDK_DISABLED: 'true' } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolvePromise, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${build} ${mode} did not start within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /variant-lens is serving on (http:\/\/localhost:\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolvePromise({ build, mode, child, url: match[1]!, dataDir });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${build} ${mode} exited with ${code}:\n${output}`));
    });
  });
}

function stop(server: Server): Promise<void> {
  return new Promise((resolvePromise) => {
    const done = () => {
      rmSync(server.dataDir, { recursive: true, force: true });
      resolvePromise();
    };
    if (server.child.exitCode !== null || server.child.signalCode !== null) done();
    else {
      server.child.once('exit', done);
      server.child.kill('SIGTERM');
    }
  });
}

async function load(url: string, until: { duration: number; overallRate?: number } | { amount: number }): Promise<number> {
  let n = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    ...until,
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: `/api/recommendations?userId=u${String((n++ % USERS) + 1).padStart(5, '0')}&limit=10` }) }],
  });
  if (result.errors + result.non2xx > 0) throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx responses`);
  return result['2xx'];
}

interface Round {
  scenario: string;
  build: string;
  mode: string;
  round: number;
  requests: number;
  cpuMsPerRequest: number;
  /** Of which the server process (main thread, ingest threads); the rest is its feature store. */
  serverCpuMsPerRequest: number;
}

async function runScenario(scenario: Scenario, builds: readonly { name: string; root: string }[]): Promise<Round[]> {
  const servers: Server[] = [];
  const rounds: Round[] = [];
  try {
    for (const build of builds) for (const mode of MODES) servers.push(await startBuild(build.root, build.name, mode, scenario.env));
    // One pass over the audience fills the caches that keep (warm), and JIT-compiles the path.
    for (const server of servers) await load(server.url, { amount: USERS });
    for (let round = 1; round <= ROUNDS; round += 1) {
      // A different order each round, so no server always follows the same one.
      const order = servers.map((_, i) => servers[(i + round) % servers.length]!);
      for (const server of order) {
        const pid = server.child.pid!;
        const before = { tree: treeCpuSeconds(pid), server: processCpuSeconds(pid) };
        const requests = await load(server.url, { duration: ROUND_SECONDS, overallRate: RATE });
        const perRequest = (seconds: number) => Number(((seconds * 1000) / requests).toFixed(3));
        rounds.push({
          scenario: scenario.name,
          build: server.build,
          mode: server.mode,
          round,
          requests,
          cpuMsPerRequest: perRequest(treeCpuSeconds(pid) - before.tree),
          serverCpuMsPerRequest: perRequest(processCpuSeconds(pid) - before.server),
        });
      }
    }
  } finally {
    await Promise.all(servers.map(stop));
  }
  return rounds;
}

export async function runRecommendationsCpuBench(): Promise<void> {
  if (!canMeasureCpu()) {
    console.log('recommendations-cpu: skipped, it reads CPU times from /proc (Linux only)');
    return;
  }
  const builds = (process.env.BENCH_BUILDS ?? '.').split(',').map((folder) => {
    const root = resolve(PROJECT_ROOT, folder.trim());
    return { name: root === PROJECT_ROOT ? 'this build' : folder.trim(), root };
  });
  const rounds: Round[] = [];
  const scenarios = chosenScenarios();
  for (const scenario of scenarios) rounds.push(...(await runScenario(scenario, builds)));
  const cpu = (scenario: string, build: string, mode: string, key: 'cpuMsPerRequest' | 'serverCpuMsPerRequest' = 'cpuMsPerRequest') =>
    median(rounds.filter((r) => r.scenario === scenario && r.build === build && r.mode === mode).map((r) => r[key]));
  const summary = scenarios.flatMap((scenario) =>
    builds.map((build) => {
      const instrumented = cpu(scenario.name, build.name, 'instrumented');
      const disabled = cpu(scenario.name, build.name, 'OTEL_SDK_DISABLED');
      return {
        scenario: scenario.name,
        build: build.name,
        instrumentedCpuMs: instrumented,
        disabledCpuMs: disabled,
        instrumentationCpuMs: Number((instrumented - disabled).toFixed(3)),
        instrumentedServerCpuMs: cpu(scenario.name, build.name, 'instrumented', 'serverCpuMsPerRequest'),
        disabledServerCpuMs: cpu(scenario.name, build.name, 'OTEL_SDK_DISABLED', 'serverCpuMsPerRequest'),
        costRatio: Number((disabled / instrumented).toFixed(3)),
      };
    }),
  );
  printTable(`CPU per recommendation at ${RATE} requests/s (server, ingest and feature store processes; ${ROUNDS} rounds of ${ROUND_SECONDS} s)`, rounds as unknown as Record<string, number>[]);
  printTable('Median CPU ms per request; costRatio = disabled / instrumented (the throughput ratio a CPU-bound server would have)', summary);
  console.log(`written ${writeResult('recommendations-cpu', { rate: RATE, roundSeconds: ROUND_SECONDS, builds, rounds, summary })}`);
}
