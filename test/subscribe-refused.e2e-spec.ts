import { Redis } from 'ioredis';
import { join } from './support/client.js';
import { startInstance, type Instance } from './support/instances.js';
import { createRoom } from './support/rest.js';
import { RedisServer, uniquePrefix } from './support/redis.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

/**
 * A SUBSCRIBE that a live Redis refuses (here: an ACL that allows one
 * room's channel only) must not leave a join answered `joined` with no
 * live stream: the join is answered `unavailable` and undone.
 */
describe('a room whose subscription Redis refuses', () => {
  let server: RedisServer;
  let admin: Redis;
  let running: Instance;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = new Redis(server.url);
    await admin.call('ACL', 'SETUSER', 'chat', 'on', '>chat-password', '~*', '+@all', 'allchannels');
    const url = new URL(server.url);
    running = await startInstance({ REDIS_URL: `redis://chat:chat-password@${url.host}`, REDIS_KEY_PREFIX: prefix });
  });
  afterAll(async () => {
    await running.close();
    admin.disconnect();
    await server.stop();
  });

  it('answers the join with unavailable, keeps the connection, and joins rooms it may subscribe', async () => {
    const allowed = await createRoom(running.http, 'alice', []);
    const refused = await createRoom(running.http, 'alice', []);
    await admin.call('ACL', 'SETUSER', 'chat', 'resetchannels', `&${prefix}chat:room:${allowed}`);
    const client = await TestClient.connect(running.ws, token('alice'));
    try {
      client.send({ type: 'join_room', room_id: refused, ref: 'j1' });
      expect(await client.next('error')).toMatchObject({ code: 'unavailable', room_id: refused, ref: 'j1' });
      expect(client.take('joined')).toEqual([]);
      await join(client, allowed);
      client.send({ type: 'send_message', room_id: allowed, content: 'live' });
      expect((await client.next('message')).message).toMatchObject({ content: 'live' });
      // The refused room was undone: the connection is not in it.
      client.send({ type: 'typing', room_id: refused, ref: 't1' });
      expect(await client.next('error')).toMatchObject({ code: 'not_joined', ref: 't1' });
    } finally {
      await client.close();
    }
  });
});
