import { Inject, Injectable } from '@nestjs/common';
import { newId } from '../core/ids.js';
import { composeKey } from '../core/key-parts.js';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import type { Message } from '../core/message.js';
import { SETTINGS, Settings } from '../config/settings.js';
import { changeEvent, newMessage, type HistoryHead, type HistoryPage, type MessageDraft, type MessageStore, type RoomLatest } from './message.store.js';
import type { MemoryReadStore } from './memory-read.store.js';

interface RoomHistory {
  /** The room's id, one string every retained message of the room shares. */
  roomId: string;
  seq: number;
  /** Retained messages, oldest first. Seqs are contiguous, so seq s sits at `s - messages[0].seq`. */
  messages: Message[];
  /** The estimated size of each retained message, in the same order. */
  sizes: number[];
}

/** What a retained message costs beyond its strings (object, array slots, order entry), estimated. */
const MESSAGE_OVERHEAD_BYTES = 400;

/** The estimated memory of a retained message: its strings at two bytes a character, plus the overhead. */
function sizeOf(message: Message): number {
  const text =
    message.content.length +
    message.message_id.length +
    message.room_id.length +
    message.sender_id.length +
    message.message_type.length +
    (message.client_msg_id?.length ?? 0) +
    (message.parent_message_id?.length ?? 0) +
    message.created_at.length +
    message.updated_at.length +
    (message.attachments === null ? 0 : JSON.stringify(message.attachments).length) +
    (message.reactions.length === 0 ? 0 : JSON.stringify(message.reactions).length);
  return MESSAGE_OVERHEAD_BYTES + 2 * text;
}

/**
 * The embedded history: bounded per room (HISTORY_MAX_PER_ROOM) and in
 * total (HISTORY_MAX_BYTES, the oldest message of any room going first),
 * gone with the process. A new process has a new epoch, so clients never
 * mistake its history for the old one. A `client_msg_id` is remembered for
 * the dedup window or as long as its message is retained, whichever is shorter.
 * Given the read store, an append also moves the sender's read position.
 */
@Injectable()
export class MemoryMessageStore implements MessageStore {
  private readonly epoch = newId();
  private readonly rooms = new Map<string, RoomHistory>();
  /** `composeKey(room, sender, client_msg_id)` → the original message and when it stops counting. */
  private readonly sent = new Map<string, { message: Message; until: number }>();
  /**
   * Every retained message of every room in the order they were appended,
   * as its room (`orderRooms`) and seq (`orderSeqs`, same index; two arrays,
   * not an object per message), oldest from `oldest` on: the order the byte
   * bound drops them in. An entry whose message its room already dropped is skipped.
   */
  private orderRooms: RoomHistory[] = [];
  private orderSeqs: number[] = [];
  private oldest = 0;
  private retainedCount = 0;
  private retainedBytes = 0;

  constructor(
    @Inject(ROOM_BUS) private readonly bus: RoomBus,
    @Inject(SETTINGS) private readonly settings: Settings,
    private readonly reads?: MemoryReadStore,
  ) {}

  get marksSenderRead(): boolean {
    return this.reads !== undefined;
  }

  async append(draft: MessageDraft, dedupWindowMs: number): Promise<{ message: Message; duplicate: boolean }> {
    const now = Date.now();
    const key = draft.client_msg_id === null ? undefined : composeKey(draft.room_id, draft.sender_id, draft.client_msg_id);
    if (key) {
      const original = this.sent.get(key);
      if (original && original.until > now) return { message: this.current(original.message), duplicate: true };
    }
    const history = this.history(draft.room_id);
    const message = newMessage(draft, ++history.seq, now);
    // The frame's copy of the id would be one more string per retained message.
    message.room_id = history.roomId;
    const size = sizeOf(message);
    history.messages.push(message);
    history.sizes.push(size);
    this.retainedCount += 1;
    this.retainedBytes += size;
    this.orderRooms.push(history);
    this.orderSeqs.push(history.seq);
    this.reads?.move(draft.room_id, draft.sender_id, history.seq, message.created_at);
    if (key) {
      this.sent.set(key, { message, until: now + dedupWindowMs });
      this.forgetExpired(now);
    }
    if (history.messages.length > this.settings.messages.historyMaxPerRoom) this.dropOldest(history);
    this.dropBeyondBytes();
    this.compactOrder();
    // Not waited for: the bus has queued the delivery once `publish` returns, and never fails (one suspension less per message).
    void this.bus.publish(draft.room_id, { type: 'message', data: message, epoch: this.epoch });
    return { message, duplicate: false };
  }

  async head(roomId: string): Promise<HistoryHead> {
    const history = this.rooms.get(roomId);
    const last = history?.messages.at(-1);
    return { seq: history?.seq ?? 0, epoch: this.epoch, lastMessageAt: last?.created_at ?? null };
  }

  async latest(roomIds: string[]): Promise<RoomLatest[]> {
    return roomIds.map((roomId) => {
      const history = this.rooms.get(roomId);
      return { seq: history?.seq ?? 0, message: history?.messages.at(-1) ?? null };
    });
  }

  async readAfter(roomId: string, afterSeq: number, limit: number) {
    const head = await this.head(roomId);
    const messages = this.rooms.get(roomId)?.messages ?? [];
    const oldest = messages[0]?.seq ?? head.seq + 1;
    const from = Math.max(0, afterSeq + 1 - oldest);
    return { head, messages: messages.slice(from, from + limit), complete: afterSeq + 1 >= oldest };
  }

  async get(roomId: string, messageId: string): Promise<Message | undefined> {
    return this.rooms.get(roomId)?.messages.find((m) => m.message_id === messageId);
  }

  async replace(message: Message, previous: Message, event: 'message_updated' | 'message_deleted'): Promise<boolean> {
    const messages = this.rooms.get(message.room_id)?.messages ?? [];
    const at = messages.findIndex((m) => m.message_id === message.message_id);
    if (at < 0 || messages[at].updated_at !== previous.updated_at) return false;
    messages[at] = message;
    const sizes = this.rooms.get(message.room_id)?.sizes ?? [];
    const size = sizeOf(message);
    this.retainedBytes += size - (sizes[at] ?? 0);
    sizes[at] = size;
    // A larger edit counts against HISTORY_MAX_BYTES as a new message does.
    this.dropBeyondBytes();
    this.compactOrder();
    await this.bus.publish(message.room_id, changeEvent(message, event));
    return true;
  }

  async changedSince(roomId: string, sinceMs: number, limit: number): Promise<Message[]> {
    const changed = (this.rooms.get(roomId)?.messages ?? []).filter((m) => m.updated_at !== m.created_at && Date.parse(m.updated_at) >= sinceMs);
    return changed.sort((a, b) => Date.parse(a.updated_at) - Date.parse(b.updated_at)).slice(0, limit);
  }

  async page(roomId: string, beforeSeq: number | undefined, limit: number): Promise<HistoryPage> {
    const messages = this.rooms.get(roomId)?.messages ?? [];
    const oldest = messages[0]?.seq ?? 1;
    const end = beforeSeq === undefined ? messages.length : Math.max(0, Math.min(messages.length, beforeSeq - oldest));
    const start = Math.max(0, end - limit);
    return { messages: messages.slice(start, end), total: messages.length, hasMore: start > 0 };
  }

  /** The retained message as it is now (an edit or a delete replaced it), or `message` itself. */
  private current(message: Message): Message {
    const messages = this.rooms.get(message.room_id)?.messages ?? [];
    const now = messages[(message.seq ?? 0) - (messages[0]?.seq ?? 0)];
    return now?.message_id === message.message_id ? now : message;
  }

  private history(roomId: string): RoomHistory {
    let history = this.rooms.get(roomId);
    if (!history) this.rooms.set(roomId, (history = { roomId, seq: 0, messages: [], sizes: [] }));
    return history;
  }

  /** Drops the oldest messages of any room while the retained total is over HISTORY_MAX_BYTES. */
  private dropBeyondBytes(): void {
    while (this.retainedBytes > this.settings.messages.historyMaxBytes && this.oldest < this.orderSeqs.length) {
      const room = this.orderRooms[this.oldest];
      const seq = this.orderSeqs[this.oldest++];
      if (room.messages[0]?.seq === seq) this.dropOldest(room);
    }
  }

  /**
   * Forgets the order entries of messages already dropped (by the byte
   * bound, or by their room's own bound) once they outnumber the retained
   * ones: the order stays within twice the history, at a cost spread over the appends.
   */
  private compactOrder(): void {
    if (this.orderSeqs.length - this.oldest <= 2 * this.retainedCount + 1024) return;
    const rooms: RoomHistory[] = [];
    const seqs: number[] = [];
    for (let i = this.oldest; i < this.orderSeqs.length; i++) {
      const first = this.orderRooms[i].messages[0]?.seq;
      if (first !== undefined && first <= this.orderSeqs[i]) {
        rooms.push(this.orderRooms[i]);
        seqs.push(this.orderSeqs[i]);
      }
    }
    this.orderRooms = rooms;
    this.orderSeqs = seqs;
    this.oldest = 0;
  }

  /** Drops a room's oldest message, and its client_msg_id with it. */
  private dropOldest(history: RoomHistory): void {
    const message = history.messages.shift();
    if (!message) return;
    this.retainedCount -= 1;
    this.retainedBytes -= history.sizes.shift() ?? 0;
    if (message.client_msg_id !== null) {
      const key = composeKey(message.room_id, message.sender_id, message.client_msg_id);
      if (this.sent.get(key)?.message.message_id === message.message_id) this.sent.delete(key);
    }
  }

  /** Map iteration is insertion order, so expired keys are at the front. */
  private forgetExpired(now: number): void {
    for (const [key, entry] of this.sent) {
      if (entry.until > now) break;
      this.sent.delete(key);
    }
  }
}
