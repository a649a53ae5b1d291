import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ROOM_BUS, type RoomBus } from '../bus/room-bus.js';
import type { Message } from '../chat/protocol.js';
import { SETTINGS, Settings } from '../config/settings.js';
import type { HistoryHead, MessageDraft, MessageStore } from './message.store.js';

interface RoomHistory {
  seq: number;
  /** Retained messages, oldest first; `messages[0].seq` is the oldest kept. */
  messages: Message[];
}

/**
 * The embedded history: bounded per room, gone with the process. A new
 * process has a new epoch, so clients never mistake its history for the old one.
 */
@Injectable()
export class MemoryMessageStore implements MessageStore {
  private readonly epoch = randomUUID();
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
    const at = new Date(now).toISOString();
    const message: Message = {
      message_id: randomUUID(),
      room_id: draft.room_id,
      sender_id: draft.sender_id,
      seq: ++history.seq,
      message_type: draft.message_type,
      content: draft.content,
      attachments: null,
      parent_message_id: draft.parent_message_id,
      thread_count: 0,
      reactions: [],
      is_edited: false,
      is_deleted: false,
      created_at: at,
      updated_at: at,
      client_msg_id: draft.client_msg_id,
    };
    history.messages.push(message);
    if (history.messages.length > this.settings.messages.historyMaxPerRoom) history.messages.shift();
    if (key) {
      this.sent.set(key, { message, until: now + dedupWindowMs });
      this.forgetExpired(now);
    }
    await this.bus.publish(draft.room_id, { type: 'message', data: message });
    return { message, duplicate: false };
  }

  async head(roomId: string): Promise<HistoryHead> {
    const history = this.rooms.get(roomId);
    const last = history?.messages.at(-1);
    return { seq: history?.seq ?? 0, epoch: this.epoch, lastMessageAt: last?.created_at ?? null };
  }

  async readAfter(roomId: string, afterSeq: number, limit: number) {
    const head = await this.head(roomId);
    const messages = this.rooms.get(roomId)?.messages ?? [];
    // Retained seqs are contiguous, so the first one after `afterSeq` sits at a known index.
    const oldest = messages[0]?.seq ?? head.seq + 1;
    const from = Math.max(0, afterSeq + 1 - oldest);
    return { head, messages: messages.slice(from, from + limit), complete: afterSeq + 1 >= oldest };
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
