// The benchmark's scenarios. Each measures both targets (the bare `ws`
// baseline and the service) in fresh server processes and returns one result
// per target; bench/report.mjs turns them into ratios. Stepped scenarios run
// both targets side by side and alternate their steps, so a busy minute on a
// shared machine hits both.
//
// A scenario is data plus one of three runners:
//   steps    — rooms × members, the rate stepped up geometrically until a step
//              fails (any loss, or p99 ≥ 100 ms); the first step is the fixed
//              load at which CPU is compared.
//   idle     — many joined connections that send nothing: time to open, memory.
//   overload — readers that stop reading while a room is busy: memory, and what happens to them.
// `target` is what the servers run with: `instances`, `redis` ('single' or
// 'cluster'), `deflate` (permessage-deflate on the servers, offered by the
// clients). A scenario that compares two setups of the service instead of
// service and baseline names them in `targets` ({ name: { server, redis,
// variant } }), measured side by side the same way; `variant: true` starts
// that one with the run's `--variant`. An `onRequest` scenario runs only when asked for.
import { commandCost, connect, deletePrefix, roundTrip, round, uniquePrefix } from './lib/redis.mjs';
import { startTarget } from './lib/processes.mjs';
import { memory, meter } from './lib/system.mjs';

export const PASS = { maxLoss: 0, maxP99Ms: 100 };
/** A failed step is repeated once, and tried up to this many times while the server waits for its core this much. */
const MAX_ATTEMPTS = 3;
const NOISY_WAIT_PERCENT = 10;

/** Many small rooms: chat's common case, and the load of the small-room CPU target (`small-rooms`, `variant`). */
const SMALL_ROOMS = {
  full: { rooms: 500, members: 2, start: 1000, factor: 1.35, maxSteps: 12 },
  quick: { rooms: 100, members: 2, start: 1000, factor: 1.6, maxSteps: 4 },
};

export const scenarios = [
  {
    name: 'fanout',
    title: '1 room × 1000 receivers',
    runner: 'steps',
    target: { instances: 1 },
    full: { rooms: 1, members: 1001, start: 50, factor: 1.3, maxSteps: 12 },
    quick: { rooms: 1, members: 201, start: 100, factor: 1.6, maxSteps: 3 },
  },
  {
    name: 'small-rooms',
    title: '500 rooms × 2 members',
    runner: 'steps',
    target: { instances: 1 },
    // Its CPU at the first rate is a target within noise of a shared machine: more samples for its median.
    full: { ...SMALL_ROOMS.full, cpuSamples: 11 },
    quick: SMALL_ROOMS.quick,
  },
  {
    name: 'idle',
    title: 'idle joined connections',
    runner: 'idle',
    target: { instances: 1 },
    full: { count: 10_000, perRoom: 10, concurrency: 200 },
    quick: { count: 2000, perRoom: 10, concurrency: 200 },
  },
  {
    name: 'redis',
    title: '2 instances on Redis, 1 room × 1000 receivers',
    runner: 'steps',
    target: { instances: 2, redis: 'single' },
    full: { rooms: 1, members: 1001, start: 20, factor: 1.3, maxSteps: 12 },
    quick: { rooms: 1, members: 201, start: 100, factor: 1.6, maxSteps: 3 },
  },
  // permessage-deflate off and on, with everything else equal: a long chat
  // message (about 1.5 KB as a frame, above the default 1 KiB threshold, so
  // it is compressed), fanned out to 200 receivers. Each socket compresses
  // its own copy (ws has no shared compression), so the cost grows with the
  // receivers; the wire bytes per delivery show what it saves.
  {
    name: 'deflate-off',
    title: 'deflate off: 1 room × 200 receivers, 1.2 KB messages',
    runner: 'steps',
    target: { instances: 1, deflate: false },
    full: { rooms: 1, members: 201, start: 50, factor: 1.4, maxSteps: 8, contentBytes: 1200 },
    quick: { rooms: 1, members: 201, start: 50, factor: 1.6, maxSteps: 3, contentBytes: 1200 },
  },
  {
    name: 'deflate-on',
    title: 'deflate on: 1 room × 200 receivers, 1.2 KB messages',
    runner: 'steps',
    target: { instances: 1, deflate: true },
    full: { rooms: 1, members: 201, start: 50, factor: 1.4, maxSteps: 8, contentBytes: 1200 },
    quick: { rooms: 1, members: 201, start: 50, factor: 1.6, maxSteps: 3, contentBytes: 1200 },
  },
  {
    name: 'cluster',
    title: '2 instances, many rooms × 2 members: one Redis vs a 3-master Redis Cluster',
    runner: 'steps',
    target: { instances: 2 },
    targets: { single: { server: 'service', redis: 'single' }, cluster: { server: 'service', redis: 'cluster' } },
    full: { rooms: 300, members: 2, start: 500, factor: 1.35, maxSteps: 10 },
    quick: { rooms: 100, members: 2, start: 500, factor: 1.6, maxSteps: 2 },
  },
  {
    // Only when asked for (`--variant`): a change's cost, measured like the small-room CPU target.
    name: 'variant',
    title: '500 rooms × 2 members: the service as built, and with `--variant`',
    runner: 'steps',
    onRequest: true,
    target: { instances: 1 },
    targets: { service: { server: 'service' }, variant: { server: 'service', variant: true } },
    full: { ...SMALL_ROOMS.full, maxSteps: 1, cpuSamples: 10 },
    quick: { ...SMALL_ROOMS.quick, maxSteps: 1, cpuSamples: 3 },
  },
  {
    name: 'overload',
    title: 'slow readers: 1 room × 50 receivers, 4 KB messages, 10 of them not reading',
    runner: 'overload',
    target: { instances: 1 },
    // Loopback socket buffers take several MB per stalled reader before the
    // server's own buffer grows, so the stall has to last.
    full: { rooms: 1, members: 51, rate: 400, durationMs: 20_000, slowFraction: 0.2, contentBytes: 4000 },
    quick: { rooms: 1, members: 51, rate: 400, durationMs: 6000, slowFraction: 0.2, contentBytes: 4000 },
  },
];

const KINDS = ['baseline', 'service'];
/** The targets a scenario measures: service and baseline, or its own `targets`. */
const kindsOf = (scenario) => (scenario.targets ? Object.keys(scenario.targets) : KINDS);
const specOf = (scenario, kind) => scenario.targets?.[kind] ?? { server: kind, redis: scenario.target.redis };

/**
 * `cpuSamples`: steps at the first rate per target whose median is the headline CPU per message (a scenario may ask for more).
 * `refine`: one more step between the highest passing rate and the lowest failing one (see `rates`).
 */
export const TIMING = {
  full: { stepMs: 4000, warmMs: 2000, drainMs: 2000, settleMs: 2000, cpuSamples: 3, refine: true },
  quick: { stepMs: 1200, warmMs: 500, drainMs: 600, settleMs: 500, cpuSamples: 1, refine: false },
};

/** Where a target's servers keep shared state; `cleanup` removes what they left. */
async function redisFor(ctx, mode, kind, label) {
  if (!mode) return { config: undefined, cleanup: async () => undefined };
  const prefix = uniquePrefix(label);
  if (mode === 'cluster') {
    const { seeds, urls } = await ctx.redisCluster(kind);
    return {
      config: { clusterNodes: seeds, nodes: urls, prefix },
      cleanup: async () => {
        for (const url of urls) {
          const redis = connect(url);
          await deletePrefix(redis, prefix).finally(() => redis.disconnect());
        }
      },
    };
  }
  // One Redis per target, so each one's counters are its own.
  const url = await ctx.redisUrl(kind);
  return {
    config: { url, nodes: [url], prefix },
    cleanup: async () => {
      const redis = connect(url);
      await deletePrefix(redis, prefix).finally(() => redis.disconnect());
    },
  };
}

/**
 * Starts the targets' servers side by side, runs `body({ [kind]: { servers, redis } })`,
 * and always stops them and clears their Redis keys. Each target has its own
 * load in the generator, named by its kind.
 */
async function withTargets(ctx, scenario, kinds, body) {
  const targets = {};
  try {
    for (const kind of kinds) {
      const spec = specOf(scenario, kind);
      targets[kind] = { redis: await redisFor(ctx, spec.redis, kind, `${scenario.name}:${kind}`) };
      targets[kind].servers = await startTarget({
        kind: spec.server,
        instances: scenario.target.instances,
        redis: targets[kind].redis.config,
        deflate: scenario.target.deflate,
        variant: spec.variant ? ctx.variant : undefined,
        profileDir: spec.server === 'service' ? ctx.profileDir : undefined,
      });
    }
    await ctx.gen.call('configure', { secret: ctx.secret, deflate: scenario.target.deflate ?? false });
    return await body(targets);
  } finally {
    for (const [kind, { servers, redis }] of Object.entries(targets)) {
      await ctx.gen.call('teardown', { load: kind });
      await servers?.stop();
      await redis.cleanup();
    }
  }
}

/** What is kept of a failed first attempt that was repeated. */
function summary(step) {
  const { deliveredPerSecond, latencyMs, lost, sent, serverCpuPercent, serverCpuUsecPerMessage, serverWaitPercent } = step;
  return { deliveredPerSecond, latencyMs, lost, sent, serverCpuPercent, serverCpuUsecPerMessage, serverWaitPercent };
}

function passes(step) {
  return step.lost <= PASS.maxLoss && step.latencyMs.p99 !== null && step.latencyMs.p99 < PASS.maxP99Ms;
}

/** One step with the server and the generator metered. */
async function measuredStep(ctx, servers, args) {
  // Only the target being measured runs: the other one's connections sit idle.
  const server = meter(servers.pids);
  const generator = meter([ctx.gen.pid]);
  const result = await ctx.gen.call('step', args);
  const s = server.stop();
  const g = generator.stop();
  return {
    ...result,
    serverCpuPercent: round(s.cpuPercent, 1),
    serverCpuSeconds: round(s.cpuSeconds, 3),
    // Per message sent: unlike a share of wall time, not moved by a late timer or a long drain.
    serverCpuUsecPerMessage: round((s.cpuSeconds * 1e6) / Math.max(1, result.sent), 1),
    serverWaitPercent: round(s.waitPercent, 1),
    serverRssMb: round(s.peakRss / 2 ** 20, 1),
    generatorCpuPercent: round(g.cpuPercent, 1),
    generatorWaitPercent: round(g.waitPercent, 1),
  };
}

/**
 * The rates one target is stepped through: up from `start` by `factor` while
 * steps pass; if the first one fails, down (at most 3 steps) until one passes.
 * With `refine`, one more step at the geometric middle of the highest pass
 * and the lowest failure: a limit found in steps of 1.3× can only be read to
 * within 1.3×, so two targets 10% apart could show as 1× or 0.77×.
 */
function rates(p, refine) {
  let i = 0;
  let up = true;
  let between;
  const at = (step) => (up ? p.start * p.factor ** step : p.start / p.factor ** step);
  return {
    done: false,
    next: () => Math.round(between ? Math.sqrt(between[0] * between[1]) : at(i)),
    record(pass) {
      if (between) this.done = true;
      else if (up && pass) this.done = ++i >= p.maxSteps;
      else if (up && i === 0) [up, i] = [false, 1];
      else {
        // Up and failed after a pass, or down and passed after a failure: the limit lies between the last two steps.
        const bracketed = up || pass;
        if (bracketed && refine) between = [at(i - 1), at(i)];
        else this.done = bracketed || ++i > 3;
      }
    },
  };
}

const runners = {
  /** Both targets set up at once, their steps alternating, so both see the machine in the same minutes. */
  async steps(ctx, scenario) {
    const p = scenario[ctx.mode];
    const { stepMs, warmMs, drainMs, refine } = TIMING[ctx.mode];
    const cpuSamples = p.cpuSamples ?? TIMING[ctx.mode].cpuSamples;
    const kinds = kindsOf(scenario);
    return withTargets(ctx, scenario, kinds, async (targets) => {
      const state = {};
      for (const kind of kinds) {
        const { servers } = targets[kind];
        const setup = await ctx.gen.call('setup', {
          load: kind,
          wsUrls: servers.wsUrls,
          httpUrls: servers.httpUrls,
          roomCount: p.rooms,
          members: p.members,
          contentBytes: p.contentBytes ?? 100,
        });
        // Untimed: JIT and first allocations out of the way before anything counts.
        await ctx.gen.call('step', { load: kind, rate: p.start, durationMs: warmMs, drainMs });
        state[kind] = { setup, steps: [], rates: rates(p, refine), redisCost: undefined, cpuSamples: [] };
      }
      // CPU at the first rate is a median: one step of a few seconds on a shared machine
      // varies by a third from run to run. The extra samples alternate between targets too.
      for (let i = 1; i < cpuSamples; i++) {
        for (const kind of kinds) {
          const sample = await measuredStep(ctx, targets[kind].servers, { load: kind, rate: p.start, durationMs: stepMs, drainMs });
          state[kind].cpuSamples.push(summary(sample));
        }
      }
      const run = async (kind, rate) => {
        const { servers, redis: { config: redisConfig } } = targets[kind];
        const args = { load: kind, rate, durationMs: stepMs, drainMs };
        const measureRedis = redisConfig && state[kind].steps.length === 0;
        const nodes = measureRedis ? redisConfig.nodes.map(connect) : undefined;
        const done = nodes ? await commandCost(nodes) : undefined;
        let step = await measuredStep(ctx, servers, args);
        // A failure must repeat to count: one stall of a shared machine is not a
        // limit. While the server keeps waiting for its core, try once more.
        const failed = [];
        while (!passes(step) && (failed.length === 0 || (failed.length < MAX_ATTEMPTS - 1 && step.serverWaitPercent > NOISY_WAIT_PERCENT))) {
          failed.push(summary(step));
          step = await measuredStep(ctx, servers, args);
        }
        if (failed.length > 0) step.failedAttempts = failed;
        // CPU at the first rate: the median of its attempts and the extra samples.
        if (state[kind].steps.length === 0) {
          const samples = [...state[kind].cpuSamples, ...failed, step].sort((x, y) => x.serverCpuUsecPerMessage - y.serverCpuUsecPerMessage);
          const median = samples[Math.floor(samples.length / 2)];
          step.cpu = {
            cpuUsecPerMessage: median.serverCpuUsecPerMessage,
            cpuPercent: median.serverCpuPercent,
            waitPercent: median.serverWaitPercent,
            samples: samples.map((sample) => sample.serverCpuUsecPerMessage),
          };
        }
        if (done) {
          state[kind].redisCost = {
            ...(await done(step.sent + failed.reduce((sum, f) => sum + f.sent, 0))),
            roundTripUsec: await roundTrip(nodes[0]),
            serverCpuUsecPerMessage: round((step.serverCpuSeconds * 1e6) / step.sent, 0),
            serverCpuUsecPerDelivery: round((step.serverCpuSeconds * 1e6) / step.delivered, 2),
          };
          for (const node of nodes) node.disconnect();
        }
        step.pass = passes(step);
        step.noisy = step.serverWaitPercent > NOISY_WAIT_PERCENT || step.generatorWaitPercent > NOISY_WAIT_PERCENT;
        // The generator near a full core: the limit found may be the generator's.
        step.generatorBound = step.generatorCpuPercent > 90;
        state[kind].steps.push(step);
        ctx.log(`  ${kind} ${rate} msg/s: ${step.deliveredPerSecond} deliveries/s, p99 ${step.latencyMs.p99} ms, lost ${step.lost}, cpu ${step.serverCpuPercent}% (waited ${step.serverWaitPercent}%) ${step.pass ? 'pass' : 'FAIL'}`);
        return step.pass;
      };
      while (kinds.some((kind) => !state[kind].rates.done)) {
        for (const kind of kinds) {
          const { rates: next } = state[kind];
          if (!next.done) next.record(await run(kind, next.next()));
        }
      }
      return Object.fromEntries(kinds.map((kind) => [kind, limits(state[kind])]));
    });
  },

  async idle(ctx, scenario, kind) {
    const p = scenario[ctx.mode];
    return withTargets(ctx, scenario, [kind], async ({ [kind]: { servers } }) => {
      await ctx.gen.call('prepareIdle', { load: kind, httpUrls: servers.httpUrls, count: p.count, perRoom: p.perRoom });
      await settle(ctx);
      const before = sumRss(servers.pids);
      const server = meter(servers.pids);
      const opened = await ctx.gen.call('openIdle', { load: kind, wsUrls: servers.wsUrls, concurrency: p.concurrency });
      const s = server.stop();
      await settle(ctx);
      const after = sumRss(servers.pids);
      const result = {
        connections: opened.connections,
        openSeconds: round(opened.openMs / 1000, 2),
        joinSeconds: round(opened.joinMs / 1000, 2),
        serverCpuSecondsOpening: round(s.cpuSeconds, 2),
        kbPerConnection: round((after - before) / opened.connections / 1024, 1),
        rssMb: round(after / 2 ** 20, 1),
      };
      ctx.log(`  ${kind}: opened ${result.connections} in ${result.openSeconds} s, joined in ${result.joinSeconds} s, ${result.kbPerConnection} KB each`);
      return result;
    });
  },

  async overload(ctx, scenario, kind) {
    const p = scenario[ctx.mode];
    return withTargets(ctx, scenario, [kind], async ({ [kind]: { servers } }) => {
      await ctx.gen.call('setup', {
        load: kind,
        wsUrls: servers.wsUrls,
        httpUrls: servers.httpUrls,
        roomCount: p.rooms,
        members: p.members,
        contentBytes: p.contentBytes,
      });
      const { slow } = await ctx.gen.call('slowReaders', { load: kind, fraction: p.slowFraction });
      const step = await measuredStep(ctx, servers, { load: kind, rate: p.rate, durationMs: p.durationMs, drainMs: TIMING[ctx.mode].drainMs });
      const peakRss = servers.pids.reduce((sum, pid) => sum + (memory(pid).peakRss ?? 0), 0);
      const released = await ctx.gen.call('releaseSlowReaders', { load: kind, waitMs: 10_000 });
      const result = {
        rate: p.rate,
        slowReaders: slow,
        peakRssMb: round(peakRss / 2 ** 20, 1),
        healthy: {
          deliveredPerSecond: step.deliveredPerSecond,
          lost: step.lost,
          lossyReceivers: step.lossyReceivers,
          latencyMs: step.latencyMs,
        },
        serverCpuPercent: step.serverCpuPercent,
        slowReadersClosed: released.closed,
        slowReadersStillOpen: released.open,
        errors: step.errors,
      };
      ctx.log(`  ${kind}: peak RSS ${result.peakRssMb} MB, healthy ${step.deliveredPerSecond} deliveries/s, p99 ${step.latencyMs.p99} ms, slow closed ${JSON.stringify(released.closed)}`);
      return result;
    });
  },
};

/** A target's stepped result: every step, the reference (first) step, and the highest passing rate. */
function limits({ setup, steps, redisCost }) {
  const passed = steps.filter((s) => s.pass);
  const highest = [...passed].sort((a, b) => b.rate - a.rate)[0];
  return {
    setup,
    steps,
    reference: steps[0],
    highestPassingRate: highest?.rate ?? 0,
    highestPassingDeliveries: highest?.deliveredPerSecond ?? 0,
    // Every step passed: the true limit is higher than measured.
    limitAbove: steps.every((s) => s.pass),
    limitBelow: passed.length === 0,
    lowestTried: Math.min(...steps.map((s) => s.rate)),
    limitedByGenerator: steps.some((s) => !s.pass && s.generatorBound),
    redisCost,
  };
}

const settle = (ctx) => new Promise((resolve) => setTimeout(resolve, TIMING[ctx.mode].settleMs));
const sumRss = (pids) => pids.reduce((sum, pid) => sum + (memory(pid).rss ?? 0), 0);

/** `{ baseline, service }` results of one scenario. */
export async function runScenario(ctx, scenario) {
  if (scenario.runner === 'steps') return runners.steps(ctx, scenario);
  const results = {};
  for (const kind of KINDS) results[kind] = await runners[scenario.runner](ctx, scenario, kind);
  return results;
}
