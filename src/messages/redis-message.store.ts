import { newId } from '../core/ids.js';
import { encodeRoomEvent } from '../core/room-event.js';
import type { Message } from '../core/message.js';
import { RedisService } from '../redis/redis.service.js';
import { APPEND, HEAD, REPLACE } from './message.scripts.js';
import type { HistoryHead, HistoryPage, MessageDraft, MessageStore } from './message.store.js';
import { changeEvent, newMessage } from './message.store.js';

type StreamEntry = [id: string, fields: string[]];

/**
 * Room histories in Redis (see `message.scripts.ts` for the layout). `seq`
 * assignment, storage and publication are one Lua script, so every instance
 * sees a room's messages in one order. A flushed Redis loses the `meta`
 * hash, and the next write picks a new epoch.
 */
export class RedisMessageStore implements MessageStore {
  constructor(
    private readonly redis: RedisService,
    private readonly maxPerRoom: number,
  ) {}

  async append(draft: MessageDraft, dedupWindowMs: number): Promise<{ message: Message; duplicate: boolean }> {
    const { keys } = this.redis;
    const { seq: _, ...rest } = newMessage(draft, 0);
    const dedup = draft.client_msg_id !== null;
    const [isNew, json] = (await this.redis.call(() =>
      this.redis.run(
        APPEND,
        [
          keys.room(draft.room_id, 'meta'),
          keys.room(draft.room_id, 'log'),
          keys.room(draft.room_id, 'ids'),
          keys.room(draft.room_id, 'edits'),
          keys.dedup(draft.room_id, draft.sender_id, draft.client_msg_id ?? ''),
        ],
        [
          JSON.stringify(rest).slice(1),
          newId(),
          this.maxPerRoom,
          dedup ? dedupWindowMs : 0,
          keys.channel(draft.room_id),
          rest.message_id,
          rest.created_at,
        ],
      ),
    )) as [number, string];
    return { message: JSON.parse(json) as Message, duplicate: isNew === 0 };
  }

  async head(roomId: string): Promise<HistoryHead> {
    const [seq, epoch, lastAt] = (await this.redis.call(() =>
      this.redis.run(HEAD, [this.redis.keys.room(roomId, 'meta')], [newId()]),
    )) as [string | null, string, string | null];
    return { seq: Number(seq ?? 0), epoch, lastMessageAt: lastAt };
  }

  async lastMessageAt(roomIds: string[]): Promise<Array<string | null>> {
    const { client, keys } = this.redis;
    const pipeline = client.pipeline();
    for (const roomId of roomIds) pipeline.hget(keys.room(roomId, 'meta'), 'last_at');
    const replies = (await this.redis.call(() => pipeline.exec())) ?? [];
    return replies.map(([error, value]) => {
      if (error) throw error;
      return (value as string | null) ?? null;
    });
  }

  async readAfter(roomId: string, afterSeq: number, limit: number) {
    const log = this.redis.keys.room(roomId, 'log');
    const head = await this.head(roomId);
    const [oldest, entries] = await this.redis.call(() =>
      Promise.all([
        this.redis.client.xrange(log, '-', '+', 'COUNT', 1) as Promise<StreamEntry[]>,
        this.redis.client.xrange(log, `${afterSeq + 1}-0`, '+', 'COUNT', limit) as Promise<StreamEntry[]>,
      ]),
    );
    const oldestSeq = oldest.length > 0 ? seqOf(oldest[0]) : head.seq + 1;
    return { head, messages: await this.withEdits(roomId, entries), complete: afterSeq + 1 >= oldestSeq };
  }

  async get(roomId: string, messageId: string): Promise<Message | undefined> {
    const { client, keys } = this.redis;
    const seq = await this.redis.call(() => client.hget(keys.room(roomId, 'ids'), messageId));
    if (seq === null) return undefined;
    const entries = (await this.redis.call(() => client.xrange(keys.room(roomId, 'log'), `${seq}-0`, `${seq}-0`))) as StreamEntry[];
    return (await this.withEdits(roomId, entries))[0];
  }

  async replace(message: Message, previous: Message, event: 'message_updated' | 'message_deleted'): Promise<boolean> {
    const { keys } = this.redis;
    const room = message.room_id;
    const replaced = await this.redis.call(() =>
      this.redis.run(
        REPLACE,
        [keys.room(room, 'ids'), keys.room(room, 'log'), keys.room(room, 'edits')],
        [
          message.message_id,
          previous.updated_at,
          JSON.stringify(message),
          keys.channel(room),
          encodeRoomEvent(changeEvent(message, event)),
        ],
      ),
    );
    return replaced === 1;
  }

  async page(roomId: string, beforeSeq: number | undefined, limit: number): Promise<HistoryPage> {
    const log = this.redis.keys.room(roomId, 'log');
    const end = beforeSeq === undefined ? '+' : `(${beforeSeq}-0`;
    const [newestFirst, total] = await this.redis.call(() =>
      Promise.all([
        this.redis.client.xrevrange(log, end, '-', 'COUNT', limit + 1) as Promise<StreamEntry[]>,
        this.redis.client.xlen(log),
      ]),
    );
    const messages = await this.withEdits(roomId, newestFirst.slice(0, limit).reverse());
    return { messages, total, hasMore: newestFirst.length > limit };
  }

  /** Stream entries as messages, with their latest edit or tombstone applied. */
  private async withEdits(roomId: string, entries: StreamEntry[]): Promise<Message[]> {
    if (entries.length === 0) return [];
    const messages = entries.map(([, fields]) => JSON.parse(fields[1]) as Message);
    const edits = await this.redis.call(() =>
      this.redis.client.hmget(this.redis.keys.room(roomId, 'edits'), ...messages.map((m) => m.message_id)),
    );
    return messages.map((message, i) => (edits[i] ? (JSON.parse(edits[i]) as Message) : message));
  }
}

function seqOf([id]: StreamEntry): number {
  return Number(id.split('-')[0]);
}
