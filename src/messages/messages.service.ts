import { Inject, Injectable } from '@nestjs/common';
import { ChatError } from '../chat/chat.error.js';
import type { Message } from '../chat/protocol.js';
import { SETTINGS, Settings } from '../config/settings.js';
import { PresenceService } from '../presence/presence.service.js';
import { MESSAGE_STORE, type HistoryHead, type MessageStore } from './message.store.js';

export interface SendInput {
  content: string;
  message_type?: string;
  client_msg_id?: string;
  parent_message_id?: string;
}

export interface Since {
  seq: number;
  epoch: string;
}

/** What a join owes the client, and where the history stands. */
export interface Recovery {
  head: HistoryHead;
  messages: Message[];
  recovered: boolean;
}

/**
 * Sending and reading messages. Callers check membership first (a joined
 * room on the socket, a member on REST); this service owns the message rules.
 */
@Injectable()
export class MessagesService {
  constructor(
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly presence: PresenceService,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {}

  /** Appends and broadcasts; a retried `client_msg_id` returns the original and broadcasts nothing. */
  async send(senderId: string, roomId: string, input: SendInput): Promise<{ message: Message; duplicate: boolean }> {
    this.checkLength(input.content, roomId);
    const result = await this.store.append(
      {
        room_id: roomId,
        sender_id: senderId,
        content: input.content,
        message_type: input.message_type ?? 'text',
        parent_message_id: input.parent_message_id ?? null,
        client_msg_id: input.client_msg_id ?? null,
      },
      this.settings.messages.dedupWindowMs,
    );
    if (!result.duplicate) await this.presence.stopTyping(roomId, senderId);
    return result;
  }

  /** The newest `limit` messages before `beforeMessageId` (or the newest overall), oldest first. */
  async history(
    roomId: string,
    limit: number,
    beforeMessageId?: string,
  ): Promise<{ messages: Message[]; total: number; has_more: boolean }> {
    const before = beforeMessageId === undefined ? undefined : await this.existing(roomId, beforeMessageId);
    const page = await this.store.page(roomId, before?.seq, limit);
    return { messages: page.messages, total: page.total, has_more: page.hasMore };
  }

  /** Edits a message's content; only its sender may, and `message_updated` is broadcast. */
  async edit(userId: string, roomId: string, messageId: string, content: string): Promise<Message> {
    const message = await this.own(userId, roomId, messageId);
    if (message.is_deleted) throw new ChatError('invalid_frame', 'A deleted message cannot be edited', roomId);
    this.checkLength(content, roomId);
    const edited = { ...message, content, is_edited: true, updated_at: new Date().toISOString() };
    await this.store.replace(edited, 'message_updated');
    return edited;
  }

  /** Leaves a tombstone (empty content) so `seq` keeps no holes; `message_deleted` is broadcast once. */
  async delete(userId: string, roomId: string, messageId: string): Promise<Message> {
    const message = await this.own(userId, roomId, messageId);
    if (message.is_deleted) return message;
    const tombstone = { ...message, content: '', is_deleted: true, updated_at: new Date().toISOString() };
    await this.store.replace(tombstone, 'message_deleted');
    return tombstone;
  }

  private async existing(roomId: string, messageId: string): Promise<Message> {
    const message = await this.store.get(roomId, messageId);
    if (!message) throw new ChatError('not_found', 'No such message');
    return message;
  }

  private async own(userId: string, roomId: string, messageId: string): Promise<Message> {
    const message = await this.existing(roomId, messageId);
    if (message.sender_id !== userId) throw new ChatError('forbidden', 'Only the sender may change a message');
    return message;
  }

  private checkLength(content: string, roomId: string): void {
    const max = this.settings.limits.maxMessageLength;
    if (content.length > max) {
      throw new ChatError('content_too_long', `content must be at most ${max} characters`, roomId);
    }
  }

  head(roomId: string): Promise<HistoryHead> {
    return this.store.head(roomId);
  }

  /** Up to `limit` messages after `afterSeq`, oldest first. */
  async readAfter(roomId: string, afterSeq: number, limit: number): Promise<{ messages: Message[]; complete: boolean }> {
    return this.store.readAfter(roomId, afterSeq, limit);
  }

  /**
   * What a join owes the client: with `since` from the same epoch and still
   * retained, every later message; otherwise none and `recovered: false`.
   */
  async recover(
    roomId: string,
    since: Since | undefined,
    limit: number,
  ): Promise<Recovery> {
    if (!since) return { head: await this.store.head(roomId), messages: [], recovered: false };
    const { head, messages, complete } = await this.store.readAfter(roomId, since.seq, limit + 1);
    const recovered = complete && since.epoch === head.epoch && since.seq <= head.seq && messages.length <= limit;
    return { head, messages: recovered ? messages : [], recovered };
  }
}
