// Rooms for the Redis measurements that call the stores directly: a message goes only into a room that exists.
import type { RedisService } from '../../src/redis/redis.service.js';
import { RedisRoomStore } from '../../src/rooms/redis-room.store.js';

/** Writes each room (no members) as `POST /rooms` would. */
export async function createRooms(redis: RedisService, roomIds: string[]): Promise<void> {
  const rooms = new RedisRoomStore(redis);
  const limits = { membersPerRoom: 1, roomsPerUser: 1, roomsCreatedByOwner: null };
  for (const roomId of roomIds) {
    const room = {
      room_id: roomId,
      room_type: 'team' as const,
      room_name: roomId,
      description: null,
      owner_id: 'a',
      member_ids: [],
      is_active: true,
      is_archived: false,
      created_at: new Date().toISOString(),
      last_message_at: null,
    };
    await rooms.create(room, [], limits);
  }
}
