import { Inject, Injectable } from '@nestjs/common';
import { newId } from '../core/ids.js';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import type { Message } from '../core/message.js';
import { SETTINGS, Settings } from '../config/settings.js';
import { changeEvent, newMessage, type HistoryHead, type HistoryPage, type MessageDraft, type MessageStore } from './message.store.js';

interface RoomHistory {
  seq: number;
  /** Retained messages, oldest first. Seqs are contiguous, so seq s sits at `s - messages[0].seq`. */
  messages: Message[];
}

/**
 * The embedded history: bounded per room, gone with the process. A new
 * process has a new epoch, so clients never mistake its history for the old one.
 */
@Injectable()
export class MemoryMessageStore implements MessageStore {
  private readonly epoch = newId();
  private readonly rooms = new Map<string, RoomHistory>();
  /** `room\nsender\nclient_msg_id` → the original message and when it stops counting. */
  private readonly sent = new Map<string, { message: Message; until: number }>();

  constructor(
    @Inject(ROOM_BUS) private readonly bus: RoomBus,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {}

  async append(draft: MessageDraft, dedupWindowMs: number): Promise<{ message: Message; duplicate: boolean }> {
    const now = Date.now();
    const key = draft.client_msg_id && `${draft.room_id}\n${draft.sender_id}\n${draft.client_msg_id}`;
    if (key) {
      const original = this.sent.get(key);
      if (original && original.until > now) return { message: original.message, duplicate: true };
    }
    const history = this.history(draft.room_id);
    const message = newMessage(draft, ++history.seq, new Date(now));
    history.messages.push(message);
    if (history.messages.length > this.settings.messages.historyMaxPerRoom) history.messages.shift();
    if (key) {
      this.sent.set(key, { message, until: now + dedupWindowMs });
      this.forgetExpired(now);
    }
    await this.bus.publish(draft.room_id, { type: 'message', data: message, epoch: this.epoch });
    return { message, duplicate: false };
  }

  async head(roomId: string): Promise<HistoryHead> {
    const history = this.rooms.get(roomId);
    const last = history?.messages.at(-1);
    return { seq: history?.seq ?? 0, epoch: this.epoch, lastMessageAt: last?.created_at ?? null };
  }

  async lastMessageAt(roomIds: string[]): Promise<Array<string | null>> {
    return roomIds.map((roomId) => this.rooms.get(roomId)?.messages.at(-1)?.created_at ?? null);
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
    await this.bus.publish(message.room_id, changeEvent(message, event));
    return true;
  }

  async page(roomId: string, beforeSeq: number | undefined, limit: number): Promise<HistoryPage> {
    const messages = this.rooms.get(roomId)?.messages ?? [];
    const oldest = messages[0]?.seq ?? 1;
    const end = beforeSeq === undefined ? messages.length : Math.max(0, Math.min(messages.length, beforeSeq - oldest));
    const start = Math.max(0, end - limit);
    return { messages: messages.slice(start, end), total: messages.length, hasMore: start > 0 };
  }

  private history(roomId: string): RoomHistory {
    let history = this.rooms.get(roomId);
    if (!history) this.rooms.set(roomId, (history = { seq: 0, messages: [] }));
    return history;
  }

  /** Map iteration is insertion order, so expired keys are at the front. */
  private forgetExpired(now: number): void {
    for (const [key, entry] of this.sent) {
      if (entry.until > now) break;
      this.sent.delete(key);
    }
  }
}
