import request from 'supertest';
import { useInstances } from './support/instances.js';
import { handshake } from './support/handshake.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

describe('per-caller limits', () => {
  const running = useInstances({ env: { REST_RATE_LIMIT_PER_MINUTE: 5, MAX_CONNECTIONS_PER_USER: 2 } });

  it('answers 429 past the REST rate, for that caller only', async () => {
    const asAlice = () => request(running.http).get('/api/v1/chats/rooms').set('Authorization', `Bearer ${token('alice')}`);
    for (let i = 0; i < 5; i++) await asAlice().expect(200);
    const refused = await asAlice().expect(429);
    expect(refused.body).toMatchObject({ statusCode: 429 });
    await request(running.http).get('/api/v1/chats/rooms').set('Authorization', `Bearer ${token('bob')}`).expect(200);
  });

  it('refuses a user a connection past their own limit with 503, not other users', async () => {
    const tabs = await Promise.all([1, 2].map(() => TestClient.connect(running.ws, token('carol'))));
    const third = await handshake(`${running.ws}?token=${token('carol')}`);
    expect(third).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    const dave = await TestClient.connect(running.ws, token('dave'));
    await tabs[0].close();
    await dave.close();
    await TestClient.connect(running.ws, token('carol')).then((client) => client.close());
    await tabs[1].close();
  });
});
