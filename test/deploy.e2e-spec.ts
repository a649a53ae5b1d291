import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { startRoundRobinProxy, type Backend, type RoundRobinProxy } from '../scripts/round-robin-proxy.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs `node scripts/check-deploy.mjs [dir]` and returns its exit code and output. */
function checkDeploy(dir?: string): Promise<{ code: number; output: string }> {
  const args = [join(root, 'scripts/check-deploy.mjs'), ...(dir ? [dir] : [])];
  return new Promise((resolve) =>
    execFile(process.execPath, args, { cwd: root }, (error, stdout, stderr) =>
      resolve({ code: typeof error?.code === 'number' ? error.code : error ? 1 : 0, output: stdout + stderr }),
    ),
  );
}

describe('check-deploy', () => {
  it('accepts the repository (compose schema, variables, nginx)', async () => {
    const result = await checkDeploy();
    expect(result).toMatchObject({ code: 0 });
    expect(result.output).toContain('matches the Compose specification');
    expect(result.output).toMatch(/^(ok|skip) +nginx -t/m);
  });

  it('fails on a variable the service does not read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'check-deploy-spec-'));
    try {
      for (const file of ['docker-compose.yml', '.env.example', 'src/config/environment.ts', 'deploy/nginx.conf']) {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        copyFileSync(join(root, file), join(dir, file));
      }
      const compose = readFileSync(join(dir, 'docker-compose.yml'), 'utf8');
      writeFileSync(join(dir, 'docker-compose.yml'), compose.replace(/^( +)NODE_ENV: production$/m, '$&\n$1NOT_A_SETTING: "1"'));
      const result = await checkDeploy(dir);
      expect(result.code).toBe(1);
      expect(result.output).toContain('NOT_A_SETTING is not in EnvironmentVariables');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails when the grace period does not cover the drain, or a service has no healthcheck', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'check-deploy-spec-'));
    try {
      for (const file of ['docker-compose.yml', '.env.example', 'src/config/environment.ts', 'deploy/nginx.conf']) {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        copyFileSync(join(root, file), join(dir, file));
      }
      const compose = readFileSync(join(dir, 'docker-compose.yml'), 'utf8')
        .replace(/^( +)NODE_ENV: production$/m, '$&\n$1DRAIN_DURATION_MS: "30000"')
        .replace(/^ {4}# Through nginx[\s\S]*?start_period: 5s\n/m, '');
      writeFileSync(join(dir, 'docker-compose.yml'), compose);
      const result = await checkDeploy(dir);
      expect(result.code).toBe(1);
      expect(result.output).toMatch(/FAIL +gateway-1: stop_grace_period 20s; DRAIN_DURATION_MS 30000 .* too short/);
      expect(result.output).toMatch(/FAIL +services without a healthcheck\n +nginx/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A backend that names itself in every HTTP answer and WebSocket message. */
async function startBackend(name: string): Promise<{ backend: Backend; server: Server; wss: WebSocketServer }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name, url: req.url, forwardedFor: req.headers['x-forwarded-for'], body: Buffer.concat(chunks).toString() }));
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket, req: IncomingMessage) => {
    socket.send(`${name} ${req.url} ${req.headers['x-forwarded-for']}`);
    socket.on('message', (data) => socket.send(`${name}:${data.toString()}`));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { backend: { host: '127.0.0.1', port: (server.address() as AddressInfo).port }, server, wss };
}

/** Opens a WebSocket and resolves with it and its first message. */
async function openSocket(url: string): Promise<{ socket: WebSocket; first: string }> {
  const socket = new WebSocket(url);
  const [data] = (await once(socket, 'message')) as [Buffer];
  return { socket, first: data.toString() };
}

describe('round-robin proxy (staging:local)', () => {
  let backends: Array<Awaited<ReturnType<typeof startBackend>>>;
  let proxy: RoundRobinProxy;
  let base: string;

  beforeAll(async () => {
    backends = await Promise.all([startBackend('a'), startBackend('b')]);
    proxy = await startRoundRobinProxy({ backends: backends.map((b) => b.backend) });
    base = `127.0.0.1:${proxy.port}`;
  });

  afterAll(async () => {
    await proxy.destroy();
    for (const { server, wss } of backends) {
      wss.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it('sends HTTP requests to each backend in turn, with path, body and X-Forwarded-For', async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`http://${base}/api/v1/chats/rooms?n=${i}`, { method: 'POST', body: `body ${i}` });
      expect(response.status).toBe(200);
      answers.push((await response.json()) as { name: string; url: string; forwardedFor: string; body: string });
    }
    const first = answers[0].name;
    const second = first === 'a' ? 'b' : 'a';
    expect(answers.map((a) => a.name)).toEqual([first, second, first, second]);
    expect(answers[3]).toEqual({ name: second, url: '/api/v1/chats/rooms?n=3', forwardedFor: '127.0.0.1', body: 'body 3' });
  });

  it('tunnels WebSocket upgrades to each backend in turn', async () => {
    const one = await openSocket(`ws://${base}/api/v1/chats/ws?token=t1`);
    const two = await openSocket(`ws://${base}/api/v1/chats/ws?token=t2`);
    const [nameOne, urlOne, forwardedFor] = one.first.split(' ');
    const nameTwo = two.first.split(' ')[0];
    expect([nameOne, nameTwo].sort()).toEqual(['a', 'b']);
    expect(urlOne).toBe('/api/v1/chats/ws?token=t1');
    expect(forwardedFor).toBe('127.0.0.1');

    one.socket.send('hello');
    const [echo] = (await once(one.socket, 'message')) as [Buffer];
    expect(echo.toString()).toBe(`${nameOne}:hello`);
    one.socket.close();
    two.socket.close();
    await Promise.all([once(one.socket, 'close'), once(two.socket, 'close')]);
  });

  it('answers 502 when the backend is down', async () => {
    const gone = await startBackend('gone');
    gone.wss.close();
    gone.server.close();
    await once(gone.server, 'close');
    const dead = await startRoundRobinProxy({ backends: [gone.backend] });
    try {
      expect((await fetch(`http://127.0.0.1:${dead.port}/health/live`)).status).toBe(502);
      const socket = new WebSocket(`ws://127.0.0.1:${dead.port}/api/v1/chats/ws`);
      socket.on('error', () => undefined);
      const [, response] = (await once(socket, 'unexpected-response')) as [unknown, IncomingMessage];
      expect(response.statusCode).toBe(502);
      socket.terminate();
    } finally {
      await dead.destroy();
    }
  });

  it('keeps open WebSockets on close() until the backend closes them (drain 1012 reaches the client)', async () => {
    const own = await startRoundRobinProxy({ backends: [backends[1].backend] });
    const { socket } = await openSocket(`ws://127.0.0.1:${own.port}/api/v1/chats/ws`);
    const closed = own.close();
    for (const client of backends[1].wss.clients) client.close(1012, 'restarting');
    const [code] = (await once(socket, 'close')) as [number];
    expect(code).toBe(1012);
    await closed;
  });
});
