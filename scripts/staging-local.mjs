#!/usr/bin/env node
// `npm run staging:local`: the topology of docker-compose.yml without Docker.
//
//   redis-server (free port, nothing persisted)
//     ├─ gateway-1: node dist/main.js (free port) ─┐
//     └─ gateway-2: node dist/main.js (free port) ─┴─ round-robin proxy on STAGING_PORT (8080)
//
// Builds first (`--no-build` skips it), prints the URLs, and on Ctrl-C or
// SIGTERM stops the proxy, drains both gateways, then stops Redis. The
// gateways run with NODE_ENV=development, so `npm run token -- <user>` makes
// tokens they accept; they read .env like `npm run start:prod`, but PORT,
// HOST, NODE_ENV and REDIS_URL are set here.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import process from 'node:process';
import { createInterface } from 'node:readline';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath, URL } from 'node:url';
import { freePort, redisAnswers, waitFor } from './processes.mjs';
import { startRoundRobinProxy } from './round-robin-proxy.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const HOST = '127.0.0.1';
const STAGING_PORT = Number(process.env.STAGING_PORT ?? 8080);
const children = [];
let proxy;
let stopping = false;

const httpAnswers = (port) => fetch(`http://${HOST}:${port}/health/live`, { signal: AbortSignal.timeout(1_000) }).then(() => true);
/** `probe` answering true within 20 s; `what` names it in the failure. */
const upWithin20s = (what, probe) => waitFor(probe, 20_000, `${what} up`, 100);

/** Starts a child whose output lines are prefixed with its name; its unexpected exit stops everything. */
function start(name, command, args, env = {}) {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => console.log(`[${name}] ${line}`));
  }
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`staging:local: ${name} exited (${signal ?? `code ${code}`}); stopping everything.`);
    void stop(1);
  });
  children.push({ name, child });
  return child;
}

/**
 * SIGTERM, then SIGKILL for whatever still runs after 20 s: compose's
 * stop_grace_period, above a gateway's drain and its two grace periods (16 s by default).
 */
async function terminate(group) {
  const exits = group.map(({ child }) => (child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined));
  for (const { child } of group) child.kill('SIGTERM');
  const timer = setTimeout(() => group.forEach(({ child }) => child.kill('SIGKILL')), 20_000);
  await Promise.all(exits);
  clearTimeout(timer);
}

/**
 * The proxy stops accepting first but keeps its open WebSockets, so the
 * gateways' drain (close 1012) reaches the clients; then the gateways, then Redis.
 */
async function stop(exitCode) {
  if (stopping) return;
  stopping = true;
  const proxyClosed = proxy?.close();
  await terminate(children.filter(({ name }) => name !== 'redis'));
  await terminate(children.filter(({ name }) => name === 'redis'));
  await proxy?.destroy();
  await proxyClosed;
  process.exit(exitCode);
}

async function main() {
  if (spawnSync('redis-server', ['--version']).error) {
    console.error('staging:local needs redis-server on PATH: install it (apt-get install redis-server, brew install redis) and retry.');
    process.exit(1);
  }
  if (!process.argv.includes('--no-build')) {
    const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
    if (build.status !== 0) process.exit(build.status ?? 1);
  }

  const redisPort = await freePort(HOST);
  start('redis', 'redis-server', ['--port', String(redisPort), '--bind', HOST, '--save', '', '--appendonly', 'no', '--loglevel', 'warning']);
  await upWithin20s('redis-server', () => redisAnswers(redisPort, HOST));
  const redisUrl = `redis://${HOST}:${redisPort}`;

  const gateways = [];
  for (const name of ['gateway-1', 'gateway-2']) {
    const port = await freePort(HOST);
    start(name, process.execPath, ['dist/main.js'], { NODE_ENV: 'development', PORT: String(port), HOST, REDIS_URL: redisUrl });
    gateways.push({ name, host: HOST, port });
  }
  await Promise.all(gateways.map(({ name, port }) => upWithin20s(name, () => httpAnswers(port))));

  proxy = await startRoundRobinProxy({ backends: gateways, port: STAGING_PORT, host: HOST }).catch((error) => {
    throw error.code === 'EADDRINUSE' ? new Error(`port ${STAGING_PORT} is taken; set STAGING_PORT to a free one`) : error;
  });
  // Named `localhost`, not 127.0.0.1: the default CORS_ORIGINS allow http://localhost:8080, so the demo page works there.
  const entry = `localhost:${proxy.port}`;
  console.log(
    [
      '',
      'staging:local is up (Ctrl-C stops it)',
      `  entry      http://${entry}  (round-robin over both gateways)`,
      `  WebSocket  ws://${entry}/api/v1/chats/ws?token=<npm run token -- <user>>`,
      `  ready      http://${entry}/health/ready`,
      ...gateways.map(({ name, port }) => `  ${name.padEnd(10)} http://${HOST}:${port}`),
      `  redis      ${redisUrl}`,
      '',
    ].join('\n'),
  );
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
// Last resort when this script dies some other way: the children are detached, so nothing else stops them.
process.on('exit', () => {
  for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

main().catch((error) => {
  if (stopping) return;
  console.error(`staging:local: ${error instanceof Error ? error.message : error}`);
  void stop(1);
});
