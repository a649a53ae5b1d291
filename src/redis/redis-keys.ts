/**
 * Every Redis key and channel of this service, under the deployment's
 * prefix (empty by default, which is what the main backend publishes to).
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

  /** What every room key starts with, for scripts that build a room's keys from its id. */
  roomPrefix(): string {
    return `${this.prefix}chat:room:`;
  }

  room(roomId: string, part: 'info' | 'members' | 'meta' | 'log' | 'ids' | 'edits' | 'typing' | 'online'): string {
    return `${this.prefix}chat:room:${roomId}:${part}`;
  }

  /** Instances holding a user's connections in a room. */
  online(roomId: string, userId: string): string {
    return `${this.prefix}chat:room:${roomId}:online:${userId}`;
  }

  userRooms(userId: string): string {
    return `${this.prefix}chat:user:${userId}:rooms`;
  }

  dedup(roomId: string, senderId: string, clientMsgId: string): string {
    return `${this.prefix}chat:room:${roomId}:dedup:${senderId}:${clientMsgId}`;
  }

  /** Sorted set of live instances, scored by when their heartbeat runs out. */
  instances(): string {
    return `${this.prefix}chat:instances`;
  }

  /** `room\nuser` pairs an instance holds presence for, so a crash can be cleaned up. */
  instanceHeld(instanceId: string): string {
    return `${this.prefix}chat:instance:${instanceId}:held`;
  }
}
