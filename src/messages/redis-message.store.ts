import { Logger } from '@nestjs/common';
import { ReplyError } from 'ioredis';
import { RoomLostError } from '../core/domain.error.js';
import { newId } from '../core/ids.js';
import { decodeMessage, encodeMessage, encodeRoomEvent, messageEventTemplate, typingStoppedTemplate } from '../core/room-event.js';
import type { Message } from '../core/message.js';
import { RedisService } from '../redis/redis.service.js';
import { APPEND, CHANGED_SINCE, GET, HEAD, LATEST, PAGE, READ_AFTER, REPLACE } from './message.scripts.js';
import type { AppendResult, HistoryHead, HistoryPage, MessageDraft, MessageStore, RoomLatest } from './message.store.js';
import { CHANGES_KEPT, changeEvent, newMessage } from './message.store.js';

/** The sender's typing stop, which APPEND publishes after the message. */
const TYPING_STOPPED = typingStoppedTemplate();

type Head = [seq: string | null, epoch: string, lastAt: string | null];

/**
 * Room histories in Redis (see `message.scripts.ts` for the layout). `seq`
 * assignment, storage and publication are one Lua script, so every instance
 * sees a room's messages in one order; every read is one script too (one
 * round trip). With `REDIS_WAIT_REPLICAS`, an event is published after the
 * WAIT instead, so none announces a write a failover could lose; concurrent
 * writers' events may then arrive out of seq order, and receivers read the
 * gap from the store (`RoomFanout`). A flushed Redis loses the `meta` hash, and the next write
 * picks a new epoch.
 */
export class RedisMessageStore implements MessageStore {
  private readonly logger = new Logger(RedisMessageStore.name);
  readonly endsTyping = true;
  readonly marksSenderRead = true;

  constructor(
    private readonly redis: RedisService,
    private readonly maxPerRoom: number,
  ) {}

  async append(draft: MessageDraft, dedupWindowMs: number): Promise<AppendResult> {
    const { keys } = this.redis;
    const room = draft.room_id;
    const { seq: _, ...rest } = newMessage(draft, 0);
    const template = messageEventTemplate(rest);
    const publishLater = this.redis.waitsForReplicas;
    const [isNew, json, typist, event] = (await this.redis.call(() =>
      this.redis.run(
        APPEND,
        [
          keys.room(room, 'meta'),
          keys.room(room, 'log'),
          keys.room(room, 'ids'),
          keys.room(room, 'versions'),
          keys.room(room, 'edits'),
          keys.dedup(room, draft.sender_id, draft.client_msg_id ?? ''),
          keys.room(room, 'typing'),
          keys.room(room, 'read'),
          keys.room(room, 'info'),
        ],
        [
          ...template.message,
          ...template.event,
          newId(),
          this.maxPerRoom,
          draft.client_msg_id === null ? 0 : dedupWindowMs,
          this.redis.eventChannel(room),
          rest.message_id,
          rest.created_at,
          publishLater ? '' : this.redis.publishCommand,
          draft.sender_id,
          ...TYPING_STOPPED,
        ],
      ),
    )) as [number, string, string | false | null | undefined, string | false | null | undefined];
    if (isNew === -1) throw new RoomLostError(room);
    await this.redis.replicated(keys.room(room, 'meta'));
    // Once replicas hold it. A retried duplicate announces its original again: receivers drop a seq they already have,
    // and one whose first announcement never went out (its WAIT failed) gets it now.
    if (publishLater && event) await this.redis.call(() => this.redis.publish(room, event));
    const message = this.decode(json);
    if (!message) throw new Error('The store answered an append with something that is not a message');
    if (isNew === 0) return { message, duplicate: true };
    return typist ? { message, duplicate: false, typingEnded: typist } : { message, duplicate: false };
  }

  async head(roomId: string): Promise<HistoryHead> {
    return toHead((await this.redis.call(() => this.redis.run(HEAD, ['meta', 'log', 'ids', 'versions', 'edits', 'read'].map((part) => this.redis.keys.room(roomId, part)), [newId()]))) as Head);
  }

  /** One script per room, each in its room's slot, sent together (not one pipeline: the rooms may sit on different cluster nodes). */
  async latest(roomIds: string[]): Promise<RoomLatest[]> {
    const { keys } = this.redis;
    const replies = (await this.redis.call(() =>
      Promise.all(
        roomIds.map((roomId) =>
          this.redis
            .run(LATEST, [keys.room(roomId, 'meta'), keys.room(roomId, 'log'), keys.room(roomId, 'edits')], [])
            // A key of this room of the wrong type: the room is damaged, the store is not away.
            .catch((error: unknown) => {
              if (!(error instanceof ReplyError) || !(error as Error).message.includes('WRONGTYPE')) throw error;
              return ['a key of the wrong type', null];
            }),
        ),
      ),
    )) as Array<[string, string | null]>;
    return replies.map(([seq, json], i) => {
      if (!isCount(Number(seq))) {
        // One damaged room fails no list it is in: counted as empty there (joining it is answered as an error).
        this.logger.warn(`room ${roomIds[i]}: its stored seq is not a count (${String(seq).slice(0, 200)}); counted as empty`);
        return { seq: 0, message: null };
      }
      return { seq: Number(seq), message: json ? (this.decode(json) ?? null) : null };
    });
  }

  async readAfter(roomId: string, afterSeq: number, limit: number) {
    const { keys } = this.redis;
    const [head, oldest, jsons] = (await this.redis.call(() =>
      this.redis.run(
        READ_AFTER,
        ['meta', 'log', 'edits', 'ids', 'versions', 'read'].map((part) => keys.room(roomId, part)),
        [newId(), `${afterSeq + 1}-0`, limit],
      ),
    )) as [Head, string | null, string[]];
    const current = toHead(head);
    const oldestSeq = oldest ? Number(oldest.split('-')[0]) : current.seq + 1;
    return { head: current, messages: this.decodeAll(jsons), complete: afterSeq + 1 >= oldestSeq };
  }

  async get(roomId: string, messageId: string): Promise<Message | undefined> {
    const { keys } = this.redis;
    const json = (await this.redis.call(() =>
      this.redis.run(GET, [keys.room(roomId, 'ids'), keys.room(roomId, 'log'), keys.room(roomId, 'edits')], [messageId]),
    )) as string | null;
    return json === null ? undefined : this.decode(json);
  }

  async replace(message: Message, previous: Message, event: 'message_updated' | 'message_deleted'): Promise<boolean> {
    const { keys } = this.redis;
    const room = message.room_id;
    const encoded = encodeRoomEvent(changeEvent(message, event));
    const publishLater = this.redis.waitsForReplicas;
    const replaced = await this.redis.call(() =>
      this.redis.run(
        REPLACE,
        [
          keys.room(room, 'ids'),
          keys.room(room, 'versions'),
          keys.room(room, 'edits'),
          keys.dedup(room, message.sender_id, message.client_msg_id ?? ''),
          keys.room(room, 'changes'),
        ],
        [
          message.message_id,
          previous.updated_at,
          message.updated_at,
          encodeMessage(message),
          this.redis.eventChannel(room),
          encoded,
          publishLater ? '' : this.redis.publishCommand,
          message.client_msg_id === null ? '' : '1',
          Date.parse(message.updated_at),
          CHANGES_KEPT,
        ],
      ),
    );
    if (replaced !== 1) return false;
    await this.redis.replicated(keys.room(room, 'ids'));
    if (publishLater) await this.redis.call(() => this.redis.publish(room, encoded));
    return true;
  }

  async changedSince(roomId: string, sinceMs: number, limit: number): Promise<Message[]> {
    const { keys } = this.redis;
    const jsons = (await this.redis.call(() =>
      this.redis.run(CHANGED_SINCE, [keys.room(roomId, 'changes'), keys.room(roomId, 'edits')], [sinceMs, limit]),
    )) as string[];
    return this.decodeAll(jsons);
  }

  async page(roomId: string, beforeSeq: number | undefined, limit: number): Promise<HistoryPage> {
    const { keys } = this.redis;
    const end = beforeSeq === undefined ? '+' : `(${beforeSeq}-0`;
    const [total, newestFirst] = (await this.redis.call(() =>
      this.redis.run(PAGE, [keys.room(roomId, 'log'), keys.room(roomId, 'edits')], [end, limit + 1]),
    )) as [number, string[]];
    const messages = this.decodeAll(newestFirst.slice(0, limit).reverse());
    return { messages, total, hasMore: newestFirst.length > limit };
  }

  private decodeAll(jsons: string[]): Message[] {
    return jsons.flatMap((json) => this.decode(json) ?? []);
  }

  /** What comes back from a key is input too: a value that is not a message is skipped, and said. */
  private decode(json: string): Message | undefined {
    const message = decodeMessage(json);
    if (!message) this.logger.warn('skipped a stored value that is not a message');
    return message;
  }
}

function toHead([seq, epoch, lastAt]: Head): HistoryHead {
  return { seq: toSeq(seq ?? 0), epoch, lastMessageAt: lastAt };
}

/** A room's stored seq; one that is not a count is a damaged key, an error (never a `seq` of null or 1e20 on the wire). */
function toSeq(value: unknown): number {
  const seq = Number(value);
  if (!isCount(seq)) throw new Error(`a stored seq is not a count: ${JSON.stringify(String(value).slice(0, 32))}`);
  return seq;
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}
