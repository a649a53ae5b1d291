// Turns a run's results into the headline figures (service ÷ bare `ws`
// baseline, same run) and writes them as JSON and markdown.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PASS } from './scenarios.mjs';

const num = (value) => (value === null || value === undefined ? '–' : Number(value).toLocaleString('en-US'));

/** A stepped scenario's highest passing rate, with what bounds it. */
function highest(t) {
  const rate = t.limitBelow
    ? `< ${num(t.lowestTried)} msg/s (every step failed)`
    : `${t.limitAbove ? '≥ ' : ''}${num(t.highestPassingRate)} msg/s (${num(t.highestPassingDeliveries)} deliveries/s)`;
  return t.limitedByGenerator ? `${rate}, generator-bound` : rate;
}

/** The highest passing rate as a number, and which way the true limit may lie from it. */
const limit = (t) => (t.limitBelow ? t.lowestTried : t.highestPassingRate);
const bound = (t) => (t.limitBelow ? 'below' : t.limitAbove ? 'above' : undefined);

/** '<' or '≥' when the ratio of two limits is only a bound. */
function ratioBound(service, baseline) {
  const down = bound(service) === 'below' || bound(baseline) === 'above';
  const up = bound(service) === 'above' || bound(baseline) === 'below';
  if (down && up) return '~';
  return down ? '≤ ' : up ? '≥ ' : '';
}

/**
 * The headline figures: where they come from, how to show them, and the
 * ratio the service aims for (`check` on service ÷ baseline).
 */
const FIGURES = [
  { scenario: 'fanout', label: (t) => `server CPU per message at ${t.reference.rate} msg/s`, value: (t) => t.reference.cpu.cpuUsecPerMessage, show: (v, t) => cpuShown(v, t) },
  { scenario: 'fanout', label: () => 'highest passing rate', value: limit, show: (_, t) => highest(t), bounded: true, target: '≥ 0.9×', check: (r) => r >= 0.9 },
  { scenario: 'small-rooms', label: (t) => `server CPU per message at ${t.reference.rate} msg/s`, value: (t) => t.reference.cpu.cpuUsecPerMessage, show: (v, t) => cpuShown(v, t), target: '≤ 1.25×', check: (r) => r <= 1.25 },
  { scenario: 'small-rooms', label: () => 'highest passing rate', value: limit, show: (_, t) => highest(t), bounded: true, target: '≥ 0.8×', check: (r) => r >= 0.8 },
  { scenario: 'idle', label: (t) => `open ${num(t.connections)} connections`, value: (t) => t.openSeconds, show: (v) => `${v} s`, target: '≤ 1.3×', check: (r) => r <= 1.3 },
  { scenario: 'idle', label: () => 'then join each to a room', value: (t) => t.joinSeconds, show: (v) => `${v} s` },
  { scenario: 'idle', label: () => 'memory per idle joined connection', value: (t) => t.kbPerConnection, show: (v) => `${v} KB` },
  { scenario: 'redis', label: (t) => `server CPU per message at ${t.reference.rate} msg/s`, value: (t) => t.reference.cpu.cpuUsecPerMessage, show: (v, t) => cpuShown(v, t) },
  { scenario: 'redis', label: () => 'highest passing rate', value: limit, show: (_, t) => highest(t), bounded: true, target: '≥ 0.8×', check: (r) => r >= 0.8 },
  ...['deflate-off', 'deflate-on'].flatMap((scenario) => [
    { scenario, label: (t) => `server CPU at ${t.reference.rate} msg/s`, value: (t) => t.reference.cpu.cpuPercent, show: (v) => `${v}%` },
    { scenario, label: (t) => `server peak RSS at ${t.reference.rate} msg/s`, value: (t) => t.reference.serverRssMb, show: (v) => `${v} MB` },
    { scenario, label: () => 'wire bytes per delivery', value: (t) => t.reference.wireBytesPerDelivery, show: (v) => `${num(v)} B` },
    { scenario, label: () => 'highest passing rate', value: limit, show: (_, t) => highest(t), bounded: true },
  ]),
  { scenario: 'overload', label: (t) => `${t.rate} msg/s: peak RSS`, value: (t) => t.peakRssMb, show: (v) => `${v} MB` },
  { scenario: 'overload', label: () => 'reading receivers: deliveries/s', value: (t) => t.healthy.deliveredPerSecond, show: (v, t) => `${num(v)} (p99 ${t.healthy.latencyMs.p99} ms, lost ${num(t.healthy.lost)})` },
  { scenario: 'overload', label: (t) => `stalled receivers (${t.slowReaders}): how they ended`, value: () => null, show: (_, t) => describeClosed(t) },
];

/** The median CPU per message at the first rate, with its core share and every sample. */
function cpuShown(v, t) {
  const { cpuPercent, waitPercent, samples } = t.reference.cpu;
  return `${num(v)} µs (${cpuPercent}% of a core, waited ${waitPercent}%; samples ${samples.map(num).join(', ')})`;
}

function describeClosed(t) {
  const closed = Object.entries(t.slowReadersClosed).map(([code, n]) => `${n} closed ${code}`);
  return [...closed, `${t.slowReadersStillOpen} open`].join(', ');
}

export function figures(results) {
  const rows = [];
  for (const figure of FIGURES) {
    const scenario = results.scenarios[figure.scenario];
    if (!scenario?.baseline || !scenario?.service) continue;
    const base = figure.value(scenario.baseline);
    const service = figure.value(scenario.service);
    const ratio = base > 0 && service !== null ? service / base : null;
    rows.push({
      scenario: scenario.title,
      figure: figure.label(scenario.service),
      baseline: figure.show(base, scenario.baseline),
      service: figure.show(service, scenario.service),
      ratio: ratio === null ? null : Number(ratio.toFixed(2)),
      ratioBound: figure.bounded ? ratioBound(scenario.service, scenario.baseline) : '',
      target: figure.target ?? null,
      met: figure.check && ratio !== null ? figure.check(ratio) : null,
    });
  }
  return rows;
}

function markdown(results, rows) {
  const m = results.machine;
  const lines = [
    `# Benchmark, ${results.mode} run, ${m.date}`,
    '',
    `${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}, Node ${m.node}. Load average at start ${m.loadAverage.join(' / ')}, at end ${results.loadAverageAtEnd.join(' / ')}.`,
    m.pinned
      ? 'Servers pinned to core 0, the load generator to core 1 (`taskset`).'
      : 'Not pinned (no `taskset` or a single core): servers and load generator share the cores.',
    `A step passes with no loss and p99 < ${PASS.maxP99Ms} ms; a failed step is repeated before it counts (once, or up to 3 attempts while the server waits for its core); CPU at a fixed rate is CPU time per message sent, the median of the steps at that rate per target (alternating; each listed under samples). Ratio: service ÷ bare \`ws\`, both measured in this run.`,
    ...(results.redis
      ? [results.redis.own ? 'Redis: a throwaway `redis-server` per target (no persistence), so its counters are that target\'s alone.' : `Redis: ${results.redis.urls[0]}, shared: its counters may include other clients' commands.`]
      : []),
    '"Server waited" is the time the server was ready to run but another process had its core: other load on the machine, which makes a step noisy.',
    '',
    '| scenario | figure | bare `ws` | this service | ratio | target |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.figure} | ${r.baseline} | ${r.service} | ${r.ratio === null ? '–' : `${r.ratioBound}${r.ratio}×`} | ${r.target ? `${r.target} ${r.met ? '✓' : '✗'}` : ''} |`),
  ];
  for (const [name, scenario] of Object.entries(results.scenarios)) {
    const kinds = Object.keys(scenario).filter((kind) => Array.isArray(scenario[kind]?.steps));
    if (kinds.length === 0) continue;
    lines.push('', `## Steps: ${scenario.title} (\`${name}\`)`, '');
    lines.push('| target | msg/s | sent/s | deliveries/s | p50 ms | p99 ms | lost | server CPU | server waited | server RSS MB | generator CPU | |');
    lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const kind of kinds) {
      for (const s of scenario[kind].steps) {
        const notes = [s.generatorBound && 'generator-bound', s.noisy && 'noisy', s.failedAttempts && `after ${s.failedAttempts.length} failed`].filter(Boolean);
        const verdict = `${s.pass ? 'pass' : 'fail'}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
        lines.push(`| ${kind} | ${num(s.rate)} | ${num(s.sentPerSecond)} | ${num(s.deliveredPerSecond)} | ${s.latencyMs.p50} | ${s.latencyMs.p99} | ${num(s.lost)} | ${s.serverCpuPercent}% | ${s.serverWaitPercent}% | ${s.serverRssMb} | ${s.generatorCpuPercent}% | ${verdict} |`);
      }
    }
  }
  const redis = results.scenarios.redis;
  if (redis?.baseline?.redisCost && redis?.service?.redisCost) {
    const b = redis.baseline.redisCost;
    const s = redis.service.redisCost;
    lines.push('', `## One message on Redis (\`redis\` scenario, ${redis.service.reference.rate} msg/s step)`, '');
    lines.push('Per message sent: Redis commands (from `INFO commandstats` deltas, commands run inside a script counted too), Redis CPU (`INFO cpu`), and the servers\' own CPU (both instances: script call, subscriber decode and fan-out).', '');
    lines.push('| | bare `ws` + Redis | this service |', '|---|---|---|');
    const names = [...new Set([...Object.keys(b.commands), ...Object.keys(s.commands)])].sort();
    for (const name of names) {
      const cell = (c) => (c ? `${c.callsPerMessage} calls, ${c.usecPerCall} µs each` : '–');
      lines.push(`| \`${name}\` | ${cell(b.commands[name])} | ${cell(s.commands[name])} |`);
    }
    lines.push(`| Redis CPU per message | ${b.redisCpuUsecPerMessage} µs | ${s.redisCpuUsecPerMessage} µs |`);
    lines.push(`| Redis CPU per message, net of the idle background | ${b.redisNetCpuUsecPerMessage} µs | ${s.redisNetCpuUsecPerMessage} µs |`);
    lines.push(`| server CPU per message (all instances) | ${b.serverCpuUsecPerMessage} µs | ${s.serverCpuUsecPerMessage} µs |`);
    lines.push(`| server CPU per delivery | ${b.serverCpuUsecPerDelivery} µs | ${s.serverCpuUsecPerDelivery} µs |`);
    lines.push(`| one round trip to Redis from a client (PING, median) | ${b.roundTripUsec} µs | ${s.roundTripUsec} µs |`);
  }
  lines.push(...shards(results.scenarios.cluster));
  lines.push(...variantVersus(results.scenarios.variant));
  return `${lines.join('\n')}\n`;
}

/**
 * The `cluster` scenario: the same service on one Redis and on a 3-master
 * cluster. Throughput is what the run reached; on a machine whose cores the
 * service saturates before Redis, that says little about Redis, so the
 * Redis-bound capacity is shown too: how many messages per second of CPU
 * the busiest Redis process could take, which is what a shard adds.
 */
function shards(cluster) {
  if (!cluster?.single?.redisCost || !cluster?.cluster?.redisCost) return [];
  const one = cluster.single.redisCost;
  const three = cluster.cluster.redisCost;
  // What a process could take beyond its idle background: the net figure scales with messages, the background does not.
  const busiest = (cost) => cost.busiestNetCpuUsecPerMessage ?? cost.busiestCpuUsecPerMessage;
  const capacity = (cost) => (busiest(cost) > 0 ? 1e6 / busiest(cost) : null);
  const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '–');
  const shareOfBusiest = three.perNodeCpuUsecPerMessage.join(' / ');
  return [
    '',
    `## One Redis vs a 3-master cluster (\`cluster\` scenario, ${num(cluster.cluster.setup?.rooms ?? cluster.cluster.reference.rate)} rooms, ${cluster.cluster.reference.rate} msg/s step)`,
    '',
    '| | one Redis | 3-master cluster | cluster ÷ one |',
    '|---|---|---|---|',
    `| highest passing rate (the service's limit on this machine) | ${highest(cluster.single)} | ${highest(cluster.cluster)} | ${ratio(limit(cluster.cluster), limit(cluster.single))} |`,
    `| Redis CPU per message, all Redis processes | ${one.redisCpuUsecPerMessage} µs | ${three.redisCpuUsecPerMessage} µs (${shareOfBusiest}) | ${ratio(three.redisCpuUsecPerMessage, one.redisCpuUsecPerMessage)} |`,
    `| Redis CPU per message, busiest Redis process | ${one.busiestCpuUsecPerMessage} µs | ${three.busiestCpuUsecPerMessage} µs | ${ratio(three.busiestCpuUsecPerMessage, one.busiestCpuUsecPerMessage)} |`,
    `| Redis CPU per message net of the idle background, all Redis processes (idle: ${one.idleCpuPercent}% / ${three.idleCpuPercent}% of a core) | ${one.redisNetCpuUsecPerMessage} µs | ${three.redisNetCpuUsecPerMessage} µs | ${ratio(three.redisNetCpuUsecPerMessage, one.redisNetCpuUsecPerMessage)} |`,
    `| Redis CPU per message net of the idle background, busiest Redis process | ${one.busiestNetCpuUsecPerMessage} µs | ${three.busiestNetCpuUsecPerMessage} µs | ${ratio(three.busiestNetCpuUsecPerMessage, one.busiestNetCpuUsecPerMessage)} |`,
    `| Redis-bound capacity (messages per second of the busiest process's CPU, net) | ${num(Math.round(capacity(one) ?? 0))} | ${num(Math.round(capacity(three) ?? 0))} | ${ratio(capacity(three), capacity(one))} |`,
    `| server CPU per message (both instances) | ${one.serverCpuUsecPerMessage} µs | ${three.serverCpuUsecPerMessage} µs | ${ratio(three.serverCpuUsecPerMessage, one.serverCpuUsecPerMessage)} |`,
  ];
}

/** The `variant` scenario: the service with `--variant` ÷ the service as built, CPU per message at the first rate. */
function variantVersus(scenario) {
  if (!scenario?.service?.reference?.cpu || !scenario?.variant?.reference?.cpu) return [];
  const cpu = (t) => t.reference.cpu.cpuUsecPerMessage;
  const ratio = cpu(scenario.service) > 0 ? `${(cpu(scenario.variant) / cpu(scenario.service)).toFixed(2)}×` : '–';
  return [
    '',
    `## The service with \`--variant '${scenario.given}'\` (\`variant\` scenario)`,
    '',
    'Two copies of the same service differ by a few percent from run to run: an empty variant measures that.',
    '',
    '| | as built | variant | variant ÷ as built |',
    '|---|---|---|---|',
    `| server CPU per message at ${scenario.service.reference.rate} msg/s | ${cpuShown(cpu(scenario.service), scenario.service)} | ${cpuShown(cpu(scenario.variant), scenario.variant)} | ${ratio} |`,
  ];
}

/** Writes `<stamp>-<mode>.json` and `.md` under `dir`; returns the markdown. */
export function write(dir, results) {
  const rows = figures(results);
  const md = markdown(results, rows);
  mkdirSync(dir, { recursive: true });
  const stamp = results.machine.date.slice(0, 16).replace(/[:T]/g, '-');
  const base = join(dir, `${stamp}-${results.mode}`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ ...results, figures: rows }, null, 2)}\n`);
  writeFileSync(`${base}.md`, md);
  return { md, files: [`${base}.json`, `${base}.md`] };
}
