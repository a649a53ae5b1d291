import { composeKey, decodeKeyPart, keyPart } from '../core/key-parts.js';

/**
 * Every Redis key and channel of this service, under the deployment's
 * prefix (empty by default, which is what the main backend publishes to).
 *
 * Layout (docs/ARCHITECTURE.md, "Redis key layout"): every variable part is
 * encoded with `keyPart`, so two different inputs never share a key, and
 * every key a script touches for one room carries the room's hash tag
 * `{<room>}`, so on a Redis Cluster they sit in one slot:
 * `<prefix>chat:{<room>}:<part>`, `…:online:<user>`, `…:dedup:<sender>:<client_msg_id>`;
 * a user's keys are tagged by user: `<prefix>chat:user:{<user>}:rooms`.
 * Room events go on `<prefix>chat:room:<room_id>` (PROTOCOL §6); on a
 * cluster on the sharded channel `<prefix>chat:{<room>}:events`, in the room's slot.
 */
export class RedisKeys {
  private readonly channelPrefix: string;

  constructor(readonly prefix: string) {
    this.channelPrefix = `${prefix}chat:room:`;
  }

  /** Pub/sub channel of a room's events (PROTOCOL §6). */
  channel(roomId: string): string {
    return this.channelPrefix + roomId;
  }

  /** The room id of a channel, or undefined for a channel that is not a room's. */
  roomOfChannel(channel: string): string | undefined {
    return channel.startsWith(this.channelPrefix) ? channel.slice(this.channelPrefix.length) : undefined;
  }

  /** Sharded pub/sub channel of a room's events on a cluster: in the slot of the room's keys. */
  events(roomId: string): string {
    return `${this.roomBase(roomId)}:events`;
  }

  /** The room id of a sharded channel (`events`), or undefined for another channel. */
  roomOfEvents(channel: string): string | undefined {
    const start = `${this.prefix}chat:{`;
    if (!channel.startsWith(start) || !channel.endsWith('}:events')) return undefined;
    try {
      return decodeKeyPart(channel.slice(start.length, -'}:events'.length));
    } catch {
      return undefined;
    }
  }

  /** A key of the room; `part` is a fixed name of this code (`info`, `members`, `meta`, `log`, …), never input. */
  room(roomId: string, part: string): string {
    return `${this.roomBase(roomId)}:${part}`;
  }

  /** Instances holding a user's connections in a room. */
  online(roomId: string, userId: string): string {
    return `${this.roomBase(roomId)}:online:${keyPart(userId)}`;
  }

  userRooms(userId: string): string {
    return `${this.prefix}chat:user:{${keyPart(userId)}}:rooms`;
  }

  /** Rooms the user is being added to, by when the add began (see `RedisRoomStore`). */
  userRoomsPending(userId: string): string {
    return `${this.prefix}chat:user:{${keyPart(userId)}}:rooms-pending`;
  }

  /** Per room, the membership version `userRooms` last followed for the user (see `RedisRoomStore`). */
  userRoomVersions(userId: string): string {
    return `${this.prefix}chat:user:{${keyPart(userId)}}:room-versions`;
  }

  /** A user's profile in the user directory (JSON). */
  userProfile(userId: string): string {
    return `${this.prefix}chat:user:{${keyPart(userId)}}:profile`;
  }

  /** The user id of an email (already normalized), in the email's own slot. */
  emailIndex(email: string): string {
    return `${this.prefix}chat:email:{${keyPart(email)}}`;
  }

  /** Pub/sub channel of a user's events (added to a room, a room changed, unread counts). */
  userChannel(userId: string): string {
    return `${this.prefix}chat:user:${userId}`;
  }

  /** The user id of a user channel, or undefined for a channel that is not a user's. */
  userOfChannel(channel: string): string | undefined {
    const prefix = `${this.prefix}chat:user:`;
    return channel.startsWith(prefix) ? channel.slice(prefix.length) : undefined;
  }

  /** Sharded pub/sub channel of a user's events on a cluster: in the slot of the user's keys. */
  userEvents(userId: string): string {
    return `${this.prefix}chat:user:{${keyPart(userId)}}:events`;
  }

  /** The user id of a sharded user channel (`userEvents`), or undefined for another channel. */
  userOfEvents(channel: string): string | undefined {
    const start = `${this.prefix}chat:user:{`;
    if (!channel.startsWith(start) || !channel.endsWith('}:events')) return undefined;
    try {
      return decodeKeyPart(channel.slice(start.length, -'}:events'.length));
    } catch {
      return undefined;
    }
  }

  /** An invitation code's hash; the code is its own hash tag (it is looked up without its room). */
  invitation(code: string): string {
    return `${this.prefix}chat:invitation:{${keyPart(code)}}`;
  }

  dedup(roomId: string, senderId: string, clientMsgId: string): string {
    return `${this.roomBase(roomId)}:dedup:${composeKey(senderId, clientMsgId)}`;
  }

  /** Sorted set of live instances, scored by when their heartbeat runs out. */
  instances(): string {
    return `${this.prefix}chat:instances`;
  }

  /** The (room, user) pairs an instance holds presence for (see `heldPair`), so a crash can be cleaned up. */
  instanceHeld(instanceId: string): string {
    return `${this.heldPrefix()}${keyPart(instanceId)}}:held`;
  }

  /** What every instance's held key starts with, for the reaper: `heldPrefix() .. id .. '}:held'`. */
  heldPrefix(): string {
    return `${this.prefix}chat:instance:{`;
  }

  /** A member of an instance's held set: `<room key part>:<user key part>:<user id>`. */
  heldPair(roomId: string, userId: string): string {
    return `${keyPart(roomId)}:${keyPart(userId)}:${userId}`;
  }

  /** The room and user of a held pair, or undefined for a member that is not one. */
  parseHeldPair(pair: string): [roomId: string, userId: string] | undefined {
    const match = /^([^:]*):([^:]*):([\s\S]*)$/.exec(pair);
    if (!match) return undefined;
    try {
      return [decodeKeyPart(match[1]), match[3]];
    } catch {
      return undefined;
    }
  }

  private roomBase(roomId: string): string {
    return `${this.prefix}chat:{${keyPart(roomId)}}`;
  }
}
