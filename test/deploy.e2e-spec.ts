import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import WebSocket, { WebSocketServer } from 'ws';
import { startRoundRobinProxy, type Backend, type RoundRobinProxy } from '../scripts/round-robin-proxy.mjs';
import { clientOf } from '../src/limits/client-address.js';

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
      for (const file of ['docker-compose.yml', 'docker-compose.cluster.yml', '.env.example', 'src/config/environment.ts', 'deploy/nginx.conf']) {
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

/**
 * deploy/nginx.conf's `$client_key`, which nginx's per-client connection
 * limit counts by, run in a real nginx: an address is told to it in
 * X-Real-IP (the realip module), and it answers the key.
 */
describe('nginx counts a client as the gateways do', () => {
  const installed = spawnSync('nginx', ['-v']).error === undefined;
  let dir: string;
  let nginx: ChildProcess | undefined;
  let port: number;

  beforeAll(async () => {
    if (!installed) return;
    const conf = readFileSync(join(root, 'deploy/nginx.conf'), 'utf8');
    const map = /^ {4}map \$remote_addr \$client_key \{[\s\S]*?^ {4}\}$/m.exec(conf)?.[0];
    if (!map || !/^ {4}limit_conn_zone \$client_key /m.test(conf)) throw new Error('deploy/nginx.conf should count connections by a `map $remote_addr $client_key`');
    dir = mkdtempSync(join(tmpdir(), 'nginx-key-'));
    const free = createServer().listen(0, '127.0.0.1');
    await once(free, 'listening');
    port = (free.address() as AddressInfo).port;
    free.close();
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off; master_process off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events {}
http {
  access_log off;
${map}
  server {
    listen 127.0.0.1:${port};
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;
    location / { return 200 $client_key; }
  }
}
`,
    );
    nginx = spawn('nginx', ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`nginx did not start: ${readFileSync(join(dir, 'error.log'), 'utf8')}`);
  });

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      nginx.kill();
      await once(nginx, 'exit');
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const keyOf = async (address: string) => (await fetch(`http://127.0.0.1:${port}/`, { headers: { 'X-Real-IP': address } })).text();

  (installed ? it : it.skip)('counts IPv6 addresses by their /64 however nginx writes them, as clientOf does', async () => {
    // Few prefixes, and groups often zero, so that "::" falls everywhere and many addresses share a /64.
    let seed = 7;
    const random = (n: number) => Math.floor(((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32) * n);
    const group = (pool: number[]) => (random(2) === 0 ? 0 : pool[random(pool.length)]);
    const addresses: string[] = [];
    while (addresses.length < 300) {
      const parts = [...Array.from({ length: 4 }, () => group([1, 0xdb8, 0xfd00])), ...Array.from({ length: 4 }, () => group([1 + random(0xffff)]))];
      const address = new ipaddr.IPv6(parts);
      // The prefixes that carry an IPv4 address are counted apart (below); ::/96 is not routed.
      if (['ipv4Mapped', 'rfc6052', '6to4', 'teredo'].includes(address.range()) || parts.slice(0, 6).every((part) => part === 0)) continue;
      // nginx writes $remote_addr its own way whatever the header's form (which its parser must accept).
      addresses.push(random(2) === 0 ? address.toNormalizedString() : parts.map((part) => part.toString(16).padStart(4, '0')).join(':'));
    }
    const keys = await Promise.all(addresses.map(keyOf));
    const byKey = new Map<string, Set<string>>();
    const byClient = new Map<string, Set<string>>();
    addresses.forEach((address, i) => {
      byKey.set(keys[i], (byKey.get(keys[i]) ?? new Set()).add(clientOf(address)));
      byClient.set(clientOf(address), (byClient.get(clientOf(address)) ?? new Set()).add(keys[i]));
    });
    // One key for each /64, and one /64 for each key.
    expect([...byClient.values()].filter((set) => set.size !== 1)).toEqual([]);
    expect([...byKey.values()].filter((set) => set.size !== 1)).toEqual([]);
    expect(byClient.size).toBeGreaterThan(20);
    expect(byClient.size).toBeLessThan(250);
  });

  (installed ? it : it.skip)('counts an IPv4 address carried in IPv6 as that IPv4 client', async () => {
    expect(await keyOf('203.0.113.7')).toBe('203.0.113.7');
    expect(await keyOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    // Each of these, whatever the rest of the address: its IPv4 part.
    const same = [
      ['64:ff9b::cb00:7107', '64:ff9b::203.0.113.7'],
      ['2002:cb00:7107::1', '2002:cb00:7107:5:0:0:0:9'],
      ['2002:cb00::1', '2002:cb00:0:1::'],
      // Teredo, also where nginx writes zeros as "::" (flags 0 and port 65535).
      ['2001:0:4136:e378:8000:63bf:34ff:8ef8', '2001:0:4136:e378:0:1234:34ff:8ef8', '2001:0:1:2:3:4:34ff:8ef8', '2001:0:4136:e378:0:0:34ff:8ef8'],
    ];
    for (const group of same) {
      const keys = await Promise.all(group.map(keyOf));
      expect(keys).toEqual(group.map(() => keys[0]));
    }
    const firsts = await Promise.all(same.map((group) => keyOf(group[0])));
    expect(new Set(firsts).size).toBe(firsts.length);
    expect(await keyOf('2001:0:4136:e378:8000:63bf:34ff:8ef9')).not.toBe(firsts[3]);
  });
});
