// What the test harness and the local scripts both need to start processes
// on free ports and wait for them: plain ES module so `node scripts/*.mjs`
// runs it as is; the types are in processes.d.mts.
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A port on `host` that was free a moment ago. */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `probe` until it returns a truthy value (which it resolves to); a
 * probe that throws counts as not yet. Fails after `timeoutMs` naming `what`
 * and the last answer.
 */
export async function waitFor(probe, timeoutMs, what = 'condition', everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms (last: ${String(last)})`);
    await sleep(everyMs);
  }
}

/** Whether a Redis answers PING on `host:port` within a second (plain RESP, no client library). */
export function redisAnswers(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = connect(port, host, () => socket.write('PING\r\n'));
    const answer = (pong) => {
      resolve(pong);
      socket.destroy();
    };
    socket.once('data', (data) => answer(data.toString().startsWith('+PONG')));
    socket.once('error', () => answer(false));
    socket.setTimeout(1_000, () => answer(false));
  });
}
