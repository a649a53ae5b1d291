import request from 'supertest';
import { token } from './tokens.js';

/** Creates a room over REST as `owner` with `members`, and returns its id. */
export async function createRoom(http: string, owner: string, members: string[], roomType = 'team'): Promise<string> {
  const response = await request(http)
    .post('/api/v1/chats/rooms')
    .set('Authorization', `Bearer ${token(owner)}`)
    .send({ room_type: roomType, room_name: 'test room', member_ids: members })
    .expect(201);
  return (response.body as { room_id: string }).room_id;
}
