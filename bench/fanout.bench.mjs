#!/usr/bin/env node
// Fan-out benchmark: one sender, N receivers in one room, M messages.
// Reports delivered frames per second for the gateway (embedded, and two
// instances on Redis) as a ratio of a bare `ws` broadcast server measured in
// the same run, because absolute numbers on a shared machine mean little.
//   npm run bench [-- --receivers 50 --messages 2000]
import { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { createApp } from '../dist/app.factory.js';

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const RECEIVERS = arg('receivers', 50);
const MESSAGES = arg('messages', 2000);
const ROUNDS = arg('rounds', 3);
const SECRET = 'bench-secret-0123456789abcdef';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const jwt = new JwtService({ secret: SECRET });
const token = (sub) => jwt.sign({ sub }, { expiresIn: '1h' });

function open(url) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves when `socket` has received `count` frames of `type`. */
function receive(socket, type, count) {
  return new Promise((resolve) => {
    let seen = 0;
    socket.on('message', (data) => {
      if (JSON.parse(data.toString()).type === type && ++seen === count) resolve();
    });
  });
}

async function timed(sender, receivers, frame) {
  const done = Promise.all(receivers.map((r) => receive(r, 'message', MESSAGES)));
  const start = performance.now();
  for (let i = 0; i < MESSAGES; i++) sender.send(JSON.stringify(frame(i)));
  await done;
  return (RECEIVERS * MESSAGES) / ((performance.now() - start) / 1000);
}

/** The floor: a bare ws server that parses each frame and broadcasts a message-sized frame. */
async function baseline() {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `ws://127.0.0.1:${server.address().port}`;
  server.on('connection', (socket) =>
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      const out = JSON.stringify({ type: 'message', message: { seq: 0, content: frame.content, id: randomUUID() } });
      for (const client of server.clients) if (client !== socket) client.send(out);
    }),
  );
  const sender = await open(url);
  const receivers = await Promise.all(Array.from({ length: RECEIVERS }, () => open(url)));
  const rate = await timed(sender, receivers, (i) => ({ type: 'send_message', content: `message ${i}` }));
  [sender, ...receivers].forEach((s) => s.terminate());
  await new Promise((resolve) => server.close(resolve));
  return rate;
}

async function gateway(instances, env) {
  const apps = [];
  for (let i = 0; i < instances; i++) {
    const app = await createApp(
      { NODE_ENV: 'test', JWT_SECRET: SECRET, RATE_LIMIT_PER_SECOND: 10_000, RATE_LIMIT_BURST: 100_000, ...env },
      false,
    );
    await app.listen(0, '127.0.0.1');
    apps.push(app);
  }
  const urls = apps.map((app) => `ws://127.0.0.1:${app.getHttpServer().address().port}/api/v1/chats/ws`);
  const http = urls[0].replace('ws://', 'http://').replace('/ws', '');
  const users = Array.from({ length: RECEIVERS }, (_, i) => `user-${i}`);
  const created = await fetch(`${http}/rooms`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token('sender')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ room_type: 'team', member_ids: users }),
  }).then((r) => r.json());
  const join = async (user, url) => {
    const socket = await open(`${url}?token=${token(user)}`);
    const joined = receive(socket, 'joined', 1);
    socket.send(JSON.stringify({ type: 'join_room', room_id: created.room_id }));
    await joined;
    return socket;
  };
  const sender = await join('sender', urls[0]);
  const receivers = await Promise.all(users.map((user, i) => join(user, urls[i % urls.length])));
  const rate = await timed(sender, receivers, (i) => ({ type: 'send_message', room_id: created.room_id, content: `message ${i}` }));
  [sender, ...receivers].forEach((s) => s.terminate());
  await Promise.all(apps.map((app) => app.close()));
  return rate;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { baseline: [], embedded: [], redis: [] };
for (let round = 0; round < ROUNDS; round++) {
  results.baseline.push(await baseline());
  results.embedded.push(await gateway(1, {}));
  results.redis.push(await gateway(2, { REDIS_URL, REDIS_KEY_PREFIX: `bench:${randomUUID().slice(0, 8)}:` }));
}
const base = median(results.baseline);
console.log(`fan-out: 1 sender, ${RECEIVERS} receivers, ${MESSAGES} messages, median of ${ROUNDS} rounds`);
console.log(`  bare ws broadcast           1.00  (${Math.round(base)} frames/s, the baseline)`);
console.log(`  gateway, embedded           ${(median(results.embedded) / base).toFixed(2)}`);
console.log(`  gateway, 2 instances/Redis  ${(median(results.redis) / base).toFixed(2)}`);
process.exit(0);
