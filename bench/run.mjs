#!/usr/bin/env node
// `npm run bench [-- --quick] [--only fanout,small-rooms] [--profile] [--variant '…']`
//
// Measures the built service (dist/) against a bare `ws` server speaking the
// same protocol subset, each in its own processes pinned to core 0, with the
// load generated from one process on core 1. Writes JSON and markdown under
// bench/results/. See bench/README.md for what each figure is.
//   --quick    smaller scenarios and shorter steps (about 2 minutes)
//   --only     a comma-separated list of scenario names
//   --profile  the service runs under --cpu-prof (one scenario: --only, default
//              small-rooms); profiles go to bench/results/profiles/
//   --variant  settings and node flags ('HISTORY_MAX_PER_ROOM=1 --no-opt';
//              `--variant=--no-opt` when it starts with a flag):
//              runs the `variant` scenario, the service as built against
//              the service with them, side by side (alone unless --only)
// The `redis` scenario runs a throwaway redis-server per target, or uses
// REDIS_URL when set; the `cluster` scenario runs a throwaway redis-server and
// a throwaway 3-master cluster. Only keys under a unique bench prefix are
// written, then deleted.
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseVariant, SECRET, startGenerator } from './lib/processes.mjs';
import { topSelfTime } from './lib/profile.mjs';
import { startCluster, startRedis } from './lib/redis.mjs';
import { machine } from './lib/system.mjs';
import { write } from './report.mjs';
import { runScenario, scenarios } from './scenarios.mjs';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    variant: { type: 'string' },
  },
});
const RESULTS = fileURLToPath(new URL('./results', import.meta.url));
const mode = values.quick ? 'quick' : 'full';
const only = values.only?.split(',') ?? (values.profile ? ['small-rooms'] : values.variant !== undefined ? ['variant'] : undefined);
const selected = only ? scenarios.filter((s) => only.includes(s.name)) : scenarios.filter((s) => !s.onRequest);
if (only && selected.length !== only.length) {
  console.error(`unknown scenario in --only; known: ${scenarios.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
if (values.profile && selected.length !== 1) {
  console.error('--profile takes one scenario (--only <name>)');
  process.exit(2);
}
let variant;
try {
  variant = parseVariant(values.variant ?? '');
} catch (error) {
  console.error(error.message);
  process.exit(2);
}
if (!existsSync(fileURLToPath(new URL('../dist/main.js', import.meta.url)))) {
  console.error('dist/main.js is missing: run `npm run build` first (`npm run bench` does)');
  process.exit(2);
}

const started = performance.now();
const profilesBefore = new Set(values.profile && existsSync(`${RESULTS}/profiles`) ? readdirSync(`${RESULTS}/profiles`) : []);
const gen = startGenerator();
/** A Redis per name (one per target), started on first use. */
const redisServers = new Map();
/** A Redis Cluster per name, started on first use. */
const redisClusters = new Map();
const ctx = {
  async redisUrl(name) {
    if (!redisServers.has(name)) redisServers.set(name, await startRedis());
    return redisServers.get(name).url;
  },
  async redisCluster(name) {
    if (!redisClusters.has(name)) redisClusters.set(name, await startCluster());
    return redisClusters.get(name);
  },
  gen,
  mode,
  secret: SECRET,
  profileDir: values.profile ? `${RESULTS}/profiles` : undefined,
  variant,
  log: (line) => console.log(line),
};
const results = { mode, machine: machine(), scenarios: {} };
console.log(`${mode} run: ${results.machine.cpu}, ${results.machine.cores} cores, Node ${results.machine.node}, load ${results.machine.loadAverage.join(' ')}`);
try {
  for (const scenario of selected) {
    console.log(`${scenario.name}: ${scenario.title}`);
    const entry = { title: scenario.title, target: scenario.target, parameters: scenario[mode] };
    if (scenario.name === 'variant') entry.given = values.variant ?? '';
    results.scenarios[scenario.name] = entry;
    Object.assign(entry, await runScenario(ctx, scenario));
  }
} finally {
  await gen.stop();
  for (const redis of [...redisServers.values(), ...redisClusters.values()]) await redis.stop();
}
if (redisServers.size > 0) {
  const servers = [...redisServers.values()];
  results.redis = { own: servers[0].own, urls: servers.map((redis) => redis.url) };
}
results.loadAverageAtEnd = os.loadavg().map((load) => Number(load.toFixed(2)));
results.durationSeconds = Math.round((performance.now() - started) / 1000);
const { md, files } = write(RESULTS, results);
console.log(`\n${md}`);
console.log(`${results.durationSeconds} s; written: ${files.join(', ')}`);
if (ctx.profileDir) {
  const fresh = readdirSync(ctx.profileDir).filter((name) => name.endsWith('.cpuprofile') && !profilesBefore.has(name));
  for (const name of fresh) {
    console.log(`\nCPU profile of the service: ${ctx.profileDir}/${name} (Chrome DevTools or speedscope); most self time, of busy time:`);
    console.table(topSelfTime(`${ctx.profileDir}/${name}`));
  }
}
process.exit(0);
