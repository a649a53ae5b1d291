import type { Environment } from '../../src/config/environment.js';
import { ask, join } from './client.js';
import { startInstance, waitReadiness, type Instance } from './instances.js';
import { createRoom } from './rest.js';
import { token } from './tokens.js';
import { TestClient } from './ws-client.js';

/**
 * Two instances started with `env` (pushed onto `apps`, which the caller
 * closes), both ready; alice on the first sends `content` to bob on the
 * second in a new room, and bob gets it as seq 1. The clients stay open.
 */
export async function twoInstancesChatting(
  env: Environment,
  content: string,
  apps: Instance[],
): Promise<{ roomId: string; alice: TestClient; bob: TestClient }> {
  const [first, second] = await Promise.all([startInstance(env), startInstance(env)]);
  apps.push(first, second);
  for (const app of [first, second]) expect(await waitReadiness(app.http, 200)).toMatchObject({ status: 200 });
  const roomId = await createRoom(first.http, 'alice', ['bob']);
  const [alice, bob] = await Promise.all([TestClient.connect(first.ws, token('alice')), TestClient.connect(second.ws, token('bob'))]);
  await join(alice, roomId);
  await join(bob, roomId);
  expect(await ask(alice, { type: 'send_message', room_id: roomId, content })).toMatchObject({ type: 'message_ack' });
  expect(await bob.next('message')).toMatchObject({ message: { content, seq: 1 } });
  return { roomId, alice, bob };
}
