import { Redis } from 'ioredis';
import request from 'supertest';
import type { Environment } from '../src/config/environment.js';
import { LimitKeys } from '../src/redis/limit-keys.js';
import { MODES, useInstances } from './support/instances.js';
import { handshake } from './support/handshake.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

/** Quotas, paged lists and the one direct room per pair (PROTOCOL §5 "Limits"), on memory and on Redis. */

const ROOMS = '/api/v1/chats/rooms';
const QUOTAS: Environment = {
  MAX_ROOMS_CREATED_PER_USER: 3,
  ROOMS_CREATED_PER_MINUTE: 5,
  MAX_MEMBERS_PER_ROOM: 3,
  MAX_ROOMS_PER_USER: 4,
};

const bearer = (user: string, role?: string) => `Bearer ${token(user, { role })}`;
const ids = (body: unknown) => (body as Array<{ user_id: string }>).map((m) => m.user_id);

describe.each(MODES)('quotas and paging on %s', (mode) => {
  const instances = useInstances({ mode, count: 1, env: QUOTAS });
  const api = () => request(instances.http);
  const create = (owner: string, members: string[], roomType = 'team', role?: string) =>
    api().post(ROOMS).set('Authorization', bearer(owner, role)).send({ room_type: roomType, member_ids: members });
  const add = (roomId: string, by: string, userId: string, role?: string) =>
    api().post(`${ROOMS}/${roomId}/members`).set('Authorization', bearer(by, role)).send({ user_id: userId });
  const limitReached = { statusCode: 409, error: 'Conflict', message: expect.any(String) };

  it('lets a user create MAX_ROOMS_CREATED_PER_USER rooms, then answers 409; service tokens are exempt', async () => {
    for (let i = 0; i < 3; i++) await create('maker', []).expect(201);
    expect((await create('maker', []).expect(409)).body).toEqual(limitReached);
    for (let i = 0; i < 4; i++) await create('backend', [], 'team', 'service').expect(201);
  });

  it('answers 429 with Retry-After past ROOMS_CREATED_PER_MINUTE, refused attempts included', async () => {
    for (let i = 0; i < 3; i++) await create('hasty', []).expect(201);
    for (let i = 0; i < 2; i++) await create('hasty', []).expect(409);
    const refused = await create('hasty', []).expect(429);
    expect(refused.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: expect.any(String) });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('keeps a room within MAX_MEMBERS_PER_ROOM, at creation and when adding', async () => {
    expect((await create('crowd-a', ['m1', 'm2', 'm3']).expect(409)).body).toEqual(limitReached);
    const roomId = (await create('crowd-b', ['m1', 'm2']).expect(201)).body.room_id as string;
    expect((await add(roomId, 'crowd-b', 'm3').expect(409)).body).toEqual(limitReached);
    expect((await add(roomId, 'backend', 'm3', 'service').expect(409)).body).toEqual(limitReached);
    await add(roomId, 'crowd-b', 'm2').expect(201);
  });

  it('puts no user in more than MAX_ROOMS_PER_USER rooms, whoever adds them', async () => {
    for (const owner of ['o1', 'o2', 'o3']) await create(owner, ['victim']).expect(201);
    const fourth = (await create('o4', []).expect(201)).body.room_id as string;
    await add(fourth, 'o4', 'victim').expect(201);
    expect((await create('o5', ['victim']).expect(409)).body).toEqual(limitReached);
    const fifth = (await create('o6', []).expect(201)).body.room_id as string;
    expect((await add(fifth, 'o6', 'victim').expect(409)).body).toEqual(limitReached);
    const listed = await api().get(ROOMS).set('Authorization', bearer('victim')).expect(200);
    expect(listed.body.total).toBe(4);
  });

  it('pages GET /rooms with limit and an opaque cursor, most recently joined first', async () => {
    const made: string[] = [];
    for (const owner of ['p1', 'p2', 'p3', 'p4']) {
      const roomId = (await create(owner, []).expect(201)).body.room_id as string;
      await add(roomId, owner, 'pager').expect(201);
      made.push(roomId);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: Record<string, string | number> = cursor === null ? { limit: 3 } : { limit: 3, cursor };
      const page = await api().get(ROOMS).query(query).set('Authorization', bearer('pager')).expect(200);
      expect(page.body.total).toBe(4);
      seen.push(...(page.body.rooms as Array<{ room_id: string }>).map((room) => room.room_id));
      cursor = page.body.next as string | null;
      pages += 1;
    } while (cursor !== null);
    expect(pages).toBe(2);
    expect(new Set(seen)).toEqual(new Set(made));
    expect(seen).toHaveLength(4);
    for (const query of [{ limit: 0 }, { limit: 201 }, { limit: 'x' }, { cursor: 'not a cursor' }, { cursor: 'bzk5OTk5OTk5OQ' }]) {
      await api().get(ROOMS).query(query).set('Authorization', bearer('pager')).expect(400);
    }
  });

  it('takes back only the cursors it handed out, for the list it handed them out for', async () => {
    const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < 3; i++) await create('reader', ['other']).expect(201);
    const first = await api().get(ROOMS).query({ limit: 1 }).set('Authorization', bearer('reader')).expect(200);
    const cursor = first.body.next as string;
    await api().get(ROOMS).query({ limit: 1, cursor }).set('Authorization', bearer('reader')).expect(200);
    const bytes = Buffer.from(cursor, 'base64url');
    const changed = Buffer.from(bytes);
    changed[3] += 1;
    const forged = [
      Buffer.from('o2').toString('base64url'),
      changed.toString('base64url'),
      // The same bytes spelled otherwise: the last digit with a spare bit set.
      cursor.slice(0, -1) + BASE64URL[BASE64URL.indexOf(cursor.at(-1)!) ^ 1],
    ];
    expect(Buffer.from(forged[2], 'base64url')).toEqual(bytes);
    for (const bad of forged) await api().get(ROOMS).query({ limit: 1, cursor: bad }).set('Authorization', bearer('reader')).expect(400);
    // Another user's list, another type's, another room's members.
    await api().get(ROOMS).query({ limit: 1, cursor }).set('Authorization', bearer('other')).expect(400);
    await api().get(ROOMS).query({ limit: 1, cursor, room_type: 'team' }).set('Authorization', bearer('reader')).expect(400);
    const roomId = first.body.rooms[0].room_id as string;
    await api().get(`${ROOMS}/${roomId}/members`).query({ limit: 1, cursor }).set('Authorization', bearer('reader')).expect(400);
  });

  it('pages GET /rooms/:id/members as a bare array with X-Total-Count and X-Next-Cursor', async () => {
    const roomId = (await create('host', ['g1', 'g2']).expect(201)).body.room_id as string;
    const first = await api()
      .get(`${ROOMS}/${roomId}/members`)
      .query({ limit: 2 })
      .set('Authorization', bearer('g1'))
      .set('Origin', 'http://localhost:3000')
      .expect(200);
    expect(first.headers['access-control-expose-headers']).toContain('X-Next-Cursor');
    expect(first.body).toHaveLength(2);
    expect(first.headers['x-total-count']).toBe('3');
    const cursor = first.headers['x-next-cursor'] as string;
    expect(cursor).toEqual(expect.any(String));
    const second = await api().get(`${ROOMS}/${roomId}/members`).query({ limit: 2, cursor }).set('Authorization', bearer('g1')).expect(200);
    expect(second.headers['x-next-cursor']).toBeUndefined();
    expect([...ids(first.body), ...ids(second.body)].sort()).toEqual(['g1', 'g2', 'host']);
    const whole = await api().get(`${ROOMS}/${roomId}/members`).set('Authorization', bearer('g1')).expect(200);
    expect(ids(whole.body).sort()).toEqual(['g1', 'g2', 'host']);
    expect(whole.headers['x-next-cursor']).toBeUndefined();
  });

  it('keeps one direct room per pair: creating it again, from either side, answers 200 with the same room', async () => {
    const first = await create('dora', ['dan'], 'direct').expect(201);
    const again = await create('dora', ['dan'], 'direct').expect(200);
    const reverse = await create('dan', ['dora'], 'direct').expect(200);
    expect(again.body.room_id).toBe(first.body.room_id);
    expect(reverse.body.room_id).toBe(first.body.room_id);
    const racing = await Promise.all([1, 2, 3].map(() => create('eli', ['eve:x'], 'direct')));
    expect(new Set(racing.map((r) => r.body.room_id)).size).toBe(1);
    expect(racing.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    // Ids that a plain join would confuse (`a:b` + `c` and `a` + `b:c`) are different pairs.
    const left = await create('a:b', ['c'], 'direct').expect(201);
    const right = await create('a', ['b:c'], 'direct').expect(201);
    expect(left.body.room_id).not.toBe(right.body.room_id);
  });

  it('brings back a user who left their direct room when it is created again', async () => {
    const roomId = (await create('fay', ['finn'], 'direct').expect(201)).body.room_id as string;
    await api().delete(`${ROOMS}/${roomId}/members/finn`).set('Authorization', bearer('finn')).expect(204);
    const again = await create('fay', ['finn'], 'direct').expect(200);
    expect(again.body.room_id).toBe(roomId);
    expect([...(again.body.member_ids as string[])].sort()).toEqual(['fay', 'finn']);
  });
});

describe('limits across two instances on one Redis', () => {
  const instances = useInstances({ mode: 'redis', count: 2, env: { REST_RATE_LIMIT_PER_MINUTE: 4, MAX_CONNECTIONS_PER_USER: 2 } });

  it('counts a user’s REST requests across instances', async () => {
    for (const instance of [0, 1, 0, 1]) {
      await request(instances.all[instance].http).get(ROOMS).set('Authorization', bearer('roamer')).expect(200);
    }
    await request(instances.all[1].http).get(ROOMS).set('Authorization', bearer('roamer')).expect(429);
    await request(instances.all[0].http).get(ROOMS).set('Authorization', bearer('roamer')).expect(429);
    await request(instances.all[0].http).get(ROOMS).set('Authorization', bearer('homebody')).expect(200);
  });

  it('counts a user’s connections across instances, and frees a slot when one closes', async () => {
    const a = await TestClient.connect(instances.all[0].ws, token('tabs'));
    const b = await TestClient.connect(instances.all[1].ws, token('tabs'));
    expect(await handshake(`${instances.all[0].ws}?token=${token('tabs')}`)).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    await b.close();
    const deadline = Date.now() + 3000;
    let status = 0;
    while (status !== 101 && Date.now() < deadline) status = (await handshake(`${instances.all[0].ws}?token=${token('tabs')}`)).status;
    expect(status).toBe(101);
    await a.close();
  });

  it('ignores the slots of an instance that stopped renewing them (crashed)', async () => {
    const redis = new Redis(instances.redisUrl);
    const key = new LimitKeys(instances.prefix).connections('ghosted');
    await redis.zadd(key, Date.now() - 1000, 'dead-instance-1', Date.now() - 1, 'dead-instance-2');
    const a = await TestClient.connect(instances.all[0].ws, token('ghosted'));
    const b = await TestClient.connect(instances.all[1].ws, token('ghosted'));
    expect(await redis.zcard(key)).toBe(2);
    await Promise.all([a.close(), b.close()]);
    await redis.quit();
  });
});

describe.each(['redis', 'cluster'] as const)('connection slots of open connections, %s', (mode) => {
  const INSTANCE_TTL_MS = 1000;
  const instances = useInstances({ mode, count: 2, env: { INSTANCE_TTL_MS, MAX_CONNECTIONS_PER_USER: 2 } });

  it('stay counted past INSTANCE_TTL_MS while their connections are open: the instances renew them', async () => {
    const users = ['keeper-a', 'keeper-b', 'keeper-c'];
    const open = await Promise.all(
      users.flatMap((user) => [TestClient.connect(instances.all[0].ws, token(user)), TestClient.connect(instances.all[1].ws, token(user))]),
    );
    // Long enough for every slot to have expired twice over without a renewal.
    await new Promise((resolve) => setTimeout(resolve, 2.5 * INSTANCE_TTL_MS));
    for (const user of users) {
      expect(await handshake(`${instances.all[0].ws}?token=${token(user)}`)).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    }
    await open[0].close();
    const deadline = Date.now() + 3000;
    let status = 0;
    while (status !== 101 && Date.now() < deadline) status = (await handshake(`${instances.all[0].ws}?token=${token(users[0])}`)).status;
    expect(status).toBe(101);
    await Promise.all(open.slice(1).map((client) => client.close()));
  });
});

describe('connection slots on one Redis, renewed in batches', () => {
  const INSTANCE_TTL_MS = 1000;
  const instances = useInstances({ mode: 'redis', count: 2, env: { INSTANCE_TTL_MS, MAX_CONNECTIONS_PER_USER: 1 } });

  it('keeps renewing the other users’ slots when one user’s key is damaged', async () => {
    const users = ['batch-a', 'batch-b', 'batch-c'];
    const open = await Promise.all(users.map((user) => TestClient.connect(instances.all[0].ws, token(user))));
    const redis = new Redis(instances.redisUrl);
    await redis.set(new LimitKeys(instances.prefix).connections('batch-b'), 'not a sorted set');
    await new Promise((resolve) => setTimeout(resolve, 2.5 * INSTANCE_TTL_MS));
    // Asked of the other instance, whose own count of the user's connections is zero: only the slots in Redis refuse.
    for (const user of ['batch-a', 'batch-c']) {
      expect(await handshake(`${instances.all[1].ws}?token=${token(user)}`)).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    }
    await Promise.all(open.map((client) => client.close()));
    await redis.quit();
  });
});
